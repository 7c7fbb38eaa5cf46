# Runs a systemd unit's ExecStart= the way systemd would, without systemd as PID 1 (sourced by
# scripts/package/deb.sh): the unit's User=, Group= (and the user's groups), Environment= then
# EnvironmentFile= (the file wins, as in systemd), WorkingDirectory=, StateDirectory= and
# RuntimeDirectory= with their modes, AmbientCapabilities=, CapabilityBoundingSet= and
# NoNewPrivileges= through setpriv. Not emulated: PrivateTmp=, ProtectSystem=, ProtectHome=
# (`systemd-analyze verify` checks their syntax only).

# unit_get FILE KEY [DEFAULT]: the last KEY= value of the unit.
unit_get() {
  local value
  value=$(sed -n "s/^$2=//p" "$1" | tail -n 1)
  echo "${value:-${3:-}}"
}

# "CAP_SETUID CAP_KILL" -> "+setuid,+kill"
caps_for_setpriv() {
  local out="" cap
  for cap in $1; do
    cap=${cap#CAP_}
    out+="${out:+,}+${cap,,}"
  done
  echo "$out"
}

# env_file_lines FILE: the KEY=value lines of a systemd EnvironmentFile (quotes removed).
env_file_lines() {
  sed -n -E 's/^[[:space:]]*([A-Za-z_][A-Za-z0-9_]*)=(.*)$/\1=\2/p' "$1" |
    sed -E 's/^([^=]+)="(.*)"$/\1=\2/; s/^([^=]+)='"'"'(.*)'"'"'$/\1=\2/'
}

# unit_exec UNIT [ARGS...]: replaces the calling (sub)shell with ARGS (default: the unit's
# ExecStart=) run as the unit would. UNIT is a path to a .service file. Call it in a subshell or
# in the background (unit_run, unit_start).
unit_exec() {
  local unit="$1"; shift
  local user group workdir envfile state state_mode runtime runtime_mode ambient bounding nnp
  user=$(unit_get "$unit" User root)
  group=$(unit_get "$unit" Group "$user")
  workdir=$(unit_get "$unit" WorkingDirectory /)
  envfile=$(unit_get "$unit" EnvironmentFile)
  state=$(unit_get "$unit" StateDirectory)
  state_mode=$(unit_get "$unit" StateDirectoryMode 0755)
  runtime=$(unit_get "$unit" RuntimeDirectory)
  runtime_mode=$(unit_get "$unit" RuntimeDirectoryMode 0755)
  ambient=$(caps_for_setpriv "$(unit_get "$unit" AmbientCapabilities)")
  bounding=$(caps_for_setpriv "$(unit_get "$unit" CapabilityBoundingSet)")
  nnp=$(unit_get "$unit" NoNewPrivileges no)
  local -a env=(PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin LANG=C.UTF-8
    "USER=$user" "LOGNAME=$user" "HOME=$(getent passwd "$user" | cut -d: -f6)"
    "SHELL=$(getent passwd "$user" | cut -d: -f7)")
  if [ -n "$state" ]; then
    install -d -m "$state_mode" -o "$user" -g "$group" "/var/lib/$state"
    env+=("STATE_DIRECTORY=/var/lib/$state")
  fi
  if [ -n "$runtime" ]; then
    install -d -m "$runtime_mode" -o "$user" -g "$group" "/run/$runtime"
    env+=("RUNTIME_DIRECTORY=/run/$runtime")
  fi
  local line
  while IFS= read -r line; do env+=("$line"); done < <(sed -n 's/^Environment=//p' "$unit")
  if [ -n "$envfile" ]; then
    while IFS= read -r line; do env+=("$line"); done < <(env_file_lines "${envfile#-}")
  fi
  local -a priv=(--reuid="$user" --regid="$group" --init-groups)
  if [ -n "$ambient" ]; then priv+=(--inh-caps="$ambient" --ambient-caps="$ambient"); fi
  if [ -n "$bounding" ]; then priv+=(--bounding-set="-all,$bounding"); fi
  if [ "$nnp" = yes ]; then priv+=(--no-new-privs); fi
  local -a exec
  if [ $# -gt 0 ]; then exec=("$@"); else read -r -a exec <<<"$(unit_get "$unit" ExecStart)"; fi
  cd "$workdir" || exit 1
  exec env -i "${env[@]}" setpriv "${priv[@]}" -- "${exec[@]}"
}

# unit_run UNIT ARGS...: ARGS as the unit would run them, in the foreground.
unit_run() {
  (unit_exec "$@")
}

# unit_start UNIT LOG: the unit's daemon in the background, output to LOG; its pid in $UNIT_PID
# (for the caller).
unit_start() {
  unit_exec "$1" >"$2" 2>&1 &
  # shellcheck disable=SC2034
  UNIT_PID=$!
}
