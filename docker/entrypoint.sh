#!/usr/bin/env bash
# Source ROS 2 and the hitl workspace, then run the given command.
set -e
# shellcheck disable=SC1090
source "/opt/ros/${ROS_DISTRO}/setup.bash"
# shellcheck disable=SC1091
source /opt/hitl/install/setup.bash
exec "$@"
