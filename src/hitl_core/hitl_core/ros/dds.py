"""DDS settings every hitl process on one host shares (scripts/env.sh sets the same in a shell).

The project's default (no ``ROS_AUTOMATIC_DISCOVERY_RANGE`` set): ``SYSTEM_DEFAULT``, under which
rmw_fastrtps leaves the transports to the Fast DDS profile, and the profile ``fastdds_loopback_udp.xml``
beside this module: UDP on the loopback interface only (no DDS traffic leaves the machine), discovery by
unicast over 120 participant ports, no shared memory. Why not rmw_fastrtps's own ``LOCALHOST`` mode:

- it probes the first 32 participant ports only, and a fleet of 8 robots is 43 processes; the later
  ones never meet (src/hitl_core/test/test_dds.py);
- it adds Fast DDS's shared-memory transport, whose segments a SIGKILLed process leaves behind; a node
  restarted after one may match its peers and receive nothing (soak run n: an operator heard no
  assignment for 17 minutes) and takes a median 3.3 s to hear the graph against 0.13 s over UDP
  (bench/results/dds_restart.json).

A user who sets ``LOCALHOST`` gets rmw_fastrtps's transports with ``fastdds_localhost.xml`` (120 ports);
any other range (``SUBNET`` to reach other computers) gets no profile of ours.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

RANGE_VAR = "ROS_AUTOMATIC_DISCOVERY_RANGE"
PROFILE_VAR = "FASTDDS_DEFAULT_PROFILES_FILE"
LOOPBACK_PROFILE = Path(__file__).with_name("fastdds_loopback_udp.xml")
LOCALHOST_PROFILE = Path(__file__).with_name("fastdds_localhost.xml")
DEFAULT_RANGE = "SYSTEM_DEFAULT"
_OURS = {str(LOOPBACK_PROFILE), str(LOCALHOST_PROFILE)}


def project_dds_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` (default: this process's) with the project's DDS set-up filled in where the user chose
    none: the range defaults to ``SYSTEM_DEFAULT`` with the loopback UDP profile, ``LOCALHOST`` gets the
    120-port profile, and one of our profiles left in ``env`` for another range (a shell that sourced
    scripts/env.sh, then set ``SUBNET``) is swapped or dropped. A profile of the user's own is kept."""
    out = dict(os.environ if env is None else env)
    chosen = out.get(RANGE_VAR) or ""
    profile = out.get(PROFILE_VAR) or ""
    if profile and profile not in _OURS:
        if not chosen:
            out[RANGE_VAR] = DEFAULT_RANGE
        return out
    if not chosen or (chosen == DEFAULT_RANGE and profile):
        out[RANGE_VAR] = DEFAULT_RANGE
        out[PROFILE_VAR] = str(LOOPBACK_PROFILE)
    elif chosen == "LOCALHOST":
        out[PROFILE_VAR] = str(LOCALHOST_PROFILE)
    else:
        out.pop(PROFILE_VAR, None)
    return out


def use_project_dds() -> None:
    """Put ``project_dds_env()`` into this process's environment (for the processes it starts)."""
    chosen = project_dds_env()
    for var in (RANGE_VAR, PROFILE_VAR):
        if var in chosen:
            os.environ[var] = chosen[var]
        else:
            os.environ.pop(var, None)
