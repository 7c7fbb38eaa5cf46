# Sourced by the scripts here that install Python tools from PyPI (schemathesis.sh,
# multiflexi-client.sh): one way to pick a virtualenv's directory, create it and pip-install
# into it, with retries. Not a service script itself (services.sh runs only *.sh).
#
# venv_dir NAME OVERRIDE  -> prints the directory: $OVERRIDE when set, else /opt/NAME when /opt
#                            is writable (root, as on CI), else ~/.cache/NAME.
# venv_install VENV SPEC... -> creates VENV when it has no python, then pip-installs SPECs.
# Progress and errors go to stderr; each function returns non-zero on failure.

venv_log() { printf '[%s] %s\n' "${VENV_LOG_NAME:-venv}" "$*" >&2; }

venv_dir() {
    local name=$1 override=${2:-}
    if [ -n "$override" ]; then
        printf '%s\n' "$override"
    elif [ -w /opt ] || { [ -d "/opt/$name" ] && [ -w "/opt/$name" ]; }; then
        printf '/opt/%s\n' "$name"
    else
        printf '%s/%s\n' "${XDG_CACHE_HOME:-$HOME/.cache}" "$name"
    fi
}

venv_install() {
    local venv=$1
    shift
    command -v python3 >/dev/null || {
        venv_log "ERROR: python3 is missing (Debian: apt-get install python3 python3-venv)"
        return 1
    }
    if ! python3 -c 'import venv, ensurepip' >/dev/null 2>&1; then
        [ "$(id -u)" = 0 ] || {
            venv_log "ERROR: python3 has no venv/ensurepip module; install python3-venv (as root)"
            return 1
        }
        venv_log "installing python3-venv"
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q update >&2 || true
        DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=120 -q install -y python3-venv >&2 || {
            venv_log "ERROR: could not install python3-venv"
            return 1
        }
    fi
    if ! "$venv/bin/python" -c 'import sys' >/dev/null 2>&1 || ! [ -x "$venv/bin/pip" ]; then
        venv_log "creating the virtualenv $venv"
        rm -rf "$venv"
        python3 -m venv "$venv" >&2 || {
            venv_log "ERROR: python3 -m venv $venv failed"
            return 1
        }
    fi
    venv_log "installing $* from PyPI into $venv"
    local try
    for try in 1 2 3; do
        if "$venv/bin/python" -m pip install -q "$@" >&2; then
            return 0
        fi
        venv_log "pip install failed (try $try); retrying"
        sleep 5
    done
    venv_log "ERROR: could not install $*"
    return 1
}
