# Source this file (bash) to get the workspace environment: the venv, the ROS 2 wheels on
# AMENT_PREFIX_PATH, and the colcon install/ overlay (hitl_msgs). Run scripts/setup.sh first.
_hitl_root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
# Callers may run with `set -u`; colcon's and the venv's setup scripts read unset variables.
case $- in *u*) _hitl_nounset=1; set +u ;; *) _hitl_nounset=0 ;; esac
# shellcheck disable=SC1091
source "$_hitl_root/.venv/bin/activate"
export AMENT_PREFIX_PATH="$VIRTUAL_ENV${AMENT_PREFIX_PATH:+:$AMENT_PREFIX_PATH}"
export CMAKE_PREFIX_PATH="$VIRTUAL_ENV${CMAKE_PREFIX_PATH:+:$CMAKE_PREFIX_PATH}"
if [ -f "$_hitl_root/install/local_setup.bash" ]; then
  # shellcheck disable=SC1091
  source "$_hitl_root/install/local_setup.bash"
fi
# The packages' console scripts (hitl_run, hitl_train, hitl_finetune, hitl_collect, hitl_bag, the nodes):
# colcon puts them where `ros2 run` looks, install/<pkg>/lib/<pkg>/; put them on PATH too.
for _hitl_bin in "$_hitl_root"/install/*/lib/*/; do
  case ":$PATH:" in *":${_hitl_bin%/}:"*) ;; *) PATH="${_hitl_bin%/}:$PATH" ;; esac
done
export PATH
unset _hitl_bin
# Keep DDS traffic on this machine, UDP on loopback only, with room for a fleet's 43+ processes and no
# shared memory; LOCALHOST gets rmw_fastrtps's transports with 120 ports; any other range (SUBNET: robots
# and operators on different computers) none of our profiles. hitl_core/ros/dds.py (project_dds_env,
# the same rules, used by hitl_run and the demo) says why.
_hitl_dds="$_hitl_root/src/hitl_core/hitl_core/ros"
case "${FASTDDS_DEFAULT_PROFILES_FILE:-}" in
  "" | "$_hitl_dds/fastdds_loopback_udp.xml" | "$_hitl_dds/fastdds_localhost.xml")
    case "${ROS_AUTOMATIC_DISCOVERY_RANGE:-}" in
      "") export ROS_AUTOMATIC_DISCOVERY_RANGE=SYSTEM_DEFAULT
          export FASTDDS_DEFAULT_PROFILES_FILE="$_hitl_dds/fastdds_loopback_udp.xml" ;;
      SYSTEM_DEFAULT) if [ -n "${FASTDDS_DEFAULT_PROFILES_FILE:-}" ]; then
                        export FASTDDS_DEFAULT_PROFILES_FILE="$_hitl_dds/fastdds_loopback_udp.xml"; fi ;;
      LOCALHOST) export FASTDDS_DEFAULT_PROFILES_FILE="$_hitl_dds/fastdds_localhost.xml" ;;
      *) unset FASTDDS_DEFAULT_PROFILES_FILE ;;
    esac ;;
  *) export ROS_AUTOMATIC_DISCOVERY_RANGE="${ROS_AUTOMATIC_DISCOVERY_RANGE:-SYSTEM_DEFAULT}" ;;
esac
unset _hitl_dds
export PYTHONPATH="$_hitl_root/src/hitl_core:$_hitl_root/src/hitl_policy:$_hitl_root/src/hitl_sim:$_hitl_root/src/hitl_teleop:$_hitl_root/src/hitl_bringup${PYTHONPATH:+:$PYTHONPATH}"
unset _hitl_root
if [ "$_hitl_nounset" = 1 ]; then set -u; fi
unset _hitl_nounset
