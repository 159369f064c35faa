# Source this file (bash) to get the workspace environment: the venv, the ROS 2 wheels on
# AMENT_PREFIX_PATH, and the colcon install/ overlay (hitl_msgs). Run scripts/setup.sh first.
_hitl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# shellcheck disable=SC1091
source "$_hitl_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
if [ -f "$_hitl_root/install/local_setup.bash" ]; then
  # shellcheck disable=SC1091
  source "$_hitl_root/install/local_setup.bash"
fi
# Keep DDS traffic on this machine, off any other host.
export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-LOCALHOST}"
export PYTHONPATH="$_hitl_root/src/hitl_policy:$_hitl_root/src/hitl_sim:$_hitl_root/src/hitl_teleop:$_hitl_root/src/hitl_bringup${PYTHONPATH:+:$PYTHONPATH}"
unset _hitl_root
