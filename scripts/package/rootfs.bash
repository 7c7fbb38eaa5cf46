# A root file system for a `FROM scratch` image from the host's Debian 12 files (sourced by
# image.sh and compose.sh): the given programs and exactly the shared libraries `ldd` lists for
# them, Debian's busybox-static as /bin/sh and the few tools an entrypoint uses, the CA bundle, and
# /etc/passwd and /etc/group with the given users. No registry and no mirror are needed.

# rootfs_elf DIR FILE...: FILE (an ELF program or library) and what ldd lists for it, at the same
# paths under DIR.
rootfs_elf() {
  local dir="$1" file lib; shift
  for file in "$@"; do
    cp -L --parents "$file" "$dir/"
    while read -r lib; do
      [ -e "$dir$lib" ] || cp -L --parents "$lib" "$dir/"
    done < <(ldd "$file" 2>/dev/null | awk '$2 == "=>" && $3 ~ /^\// { print $3 } $1 ~ /^\// { print $1 }')
  done
}

# rootfs_base DIR "NAME:UID:HOME"...: busybox as /bin/sh (and its applets), the CA bundle, /tmp,
# /etc/passwd and /etc/group with root, nobody and the given users.
rootfs_base() {
  local dir="$1" applet user name uid home; shift
  mkdir -p "$dir/bin" "$dir/etc/ssl/certs" "$dir/tmp" "$dir/usr/bin"
  chmod 1777 "$dir/tmp"
  rootfs_elf "$dir" /bin/busybox
  for applet in sh cat chmod date echo env id ls mkdir rm sleep test true false; do
    ln -sf busybox "$dir/bin/$applet"
  done
  cp -L /etc/ssl/certs/ca-certificates.crt "$dir/etc/ssl/certs/"
  printf 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n' \
    >"$dir/etc/passwd"
  printf 'root:x:0:\nnogroup:x:65534:\n' >"$dir/etc/group"
  for user in "$@"; do
    IFS=: read -r name uid home <<<"$user"
    echo "$name:x:$uid:$uid:$name:$home:/bin/false" >>"$dir/etc/passwd"
    echo "$name:x:$uid:" >>"$dir/etc/group"
  done
}
