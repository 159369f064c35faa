"""DDS settings every hitl process on one host shares (scripts/env.sh sets the same in a shell).

LOCALHOST discovery (``ROS_AUTOMATIC_DISCOVERY_RANGE=LOCALHOST``, the project's default: no DDS traffic
leaves the machine) makes rmw_fastrtps find the other processes by unicast to the first 32 participant
ports of the domain only. A graph of more ROS processes (a fleet of 8 robots is 43) loses discovery
between the later ones; the Fast DDS profile ``fastdds_localhost.xml`` beside this module raises that
to 120 (test: src/hitl_core/test/test_dds.py).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

PROFILE = Path(__file__).with_name("fastdds_localhost.xml")
PROFILE_VAR = "FASTDDS_DEFAULT_PROFILES_FILE"


def localhost_dds_env(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """The variables to add to ``env`` (default: this process's) so that its ROS processes discover
    each other on this host however many there are: LOCALHOST discovery unless another range is set,
    and then (LOCALHOST only, and only where no Fast DDS profile file is set) the profile above."""
    env = os.environ if env is None else env
    add: dict[str, str] = {}
    if not env.get("ROS_AUTOMATIC_DISCOVERY_RANGE"):
        add["ROS_AUTOMATIC_DISCOVERY_RANGE"] = "LOCALHOST"
    if (env.get("ROS_AUTOMATIC_DISCOVERY_RANGE") or "LOCALHOST") == "LOCALHOST" and not env.get(PROFILE_VAR):
        add[PROFILE_VAR] = str(PROFILE)
    return add
