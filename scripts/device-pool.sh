# shellcheck shell=bash
# Sourced by scripts/setup-host.sh: the storage pool on a real block device (`--device /dev/X`), and the
# fstab entries that bring pools back after a restart. Expects say/die from the caller.

# fstab_entry FSTAB SPEC DIR TYPE OPTS FORCE: makes FSTAB mount SPEC at DIR. An entry for DIR that names
# another source is left alone (with an error) unless FORCE, since it is someone else's decision.
fstab_entry() {
  local fstab=$1 spec=$2 dir=$3 type=$4 opts=$5 force=$6 line existing
  line="$spec $dir $type $opts 0 0"
  touch "$fstab"
  # Fields 1 and 2 of the non-comment lines whose mount point is DIR (fstab escapes spaces as \040).
  existing=$(awk -v d="$dir" '$1 !~ /^#/ && $2 == d { print $1 }' "$fstab")
  if [ "$existing" = "$spec" ]; then
    say "$fstab already mounts $spec at $dir"
    return
  fi
  if [ -n "$existing" ]; then
    [ "$force" = 1 ] || die "$fstab already mounts $(echo "$existing" | head -n1) at $dir; remove that line or pass --force to replace it"
    say "replacing the $fstab entry for $dir ($existing)"
  fi
  # Rewrite through a temp file beside it and rename, so a crash never leaves half an fstab.
  local tmp
  tmp=$(mktemp "$fstab.myaas.XXXXXX")
  local note="# myaas storage pool at $dir (scripts/setup-host.sh)"
  awk -v d="$dir" -v n="$note" '!($1 !~ /^#/ && $2 == d) && $0 != n' "$fstab" >"$tmp"
  printf '%s\n%s\n' "$note" "$line" >>"$tmp"
  chmod --reference="$fstab" "$tmp" 2>/dev/null || chmod 644 "$tmp"
  mv "$tmp" "$fstab"
  say "added to $fstab: $line"
  # systemd turns fstab into mount units at boot and on daemon-reload; tell it now when it runs this host.
  if [ "$fstab" = /etc/fstab ] && [ -d /run/systemd/system ]; then systemctl daemon-reload || true; fi
}

# Options for a pool's fstab line: nofail so a missing disk does not stop the boot (the controller then
# refuses to start with a clear message instead), and mounted before Docker starts, so a controller
# container brought back by its restart policy finds its pool and not an empty directory.
POOL_MOUNT_OPTS=defaults,nofail,x-systemd.before=docker.service

# device_pool DIR DEVICE KIND FORCE FSTAB: a KIND (btrfs|xfs) filesystem on DEVICE, mounted at DIR by
# UUID through FSTAB. Safe to run again: a device that already carries this pool is only (re)mounted.
device_pool() {
  local dir=$1 dev=$2 kind=$3 force=$4 fstab=$5 found type uuid mounted
  [ -b "$dev" ] || die "--device $dev is not a block device (give a disk or partition, e.g. /dev/sdb or /dev/nvme1n1)"
  dev=$(readlink -f "$dev")

  # Mounted anywhere (itself or a partition on it)? Then it is in use, with or without --force.
  mounted=$(lsblk -nro MOUNTPOINT "$dev" 2>/dev/null | grep -v '^$' || true)
  if [ -n "$mounted" ] && [ "$mounted" != "$dir" ]; then
    die "$dev is in use: mounted at $(echo "$mounted" | paste -sd, -); choose another device"
  fi

  found=$(blkid -p -o export "$dev" 2>/dev/null || true)  # -p: read the device itself, not a cache
  type=$(sed -n 's/^TYPE=//p' <<<"$found")
  uuid=$(sed -n 's/^UUID=//p' <<<"$found")
  local ours=0
  if [ "$type" = "$kind" ] && [ -n "$uuid" ]; then
    if [ "$mounted" = "$dir" ] || awk -v d="$dir" -v s="UUID=$uuid" '$1 == s && $2 == d { f=1 } END { exit !f }' "$fstab" 2>/dev/null; then
      ours=1
    fi
  fi

  if [ "$ours" = 1 ]; then
    say "$dev already holds this pool ($kind, UUID $uuid)"
  else
    # Every refusal comes before the first write to the device.
    if [ -e "$dir" ] && ! mountpoint -q "$dir" && [ -n "$(ls -A "$dir" 2>/dev/null)" ]; then
      die "$dir is not empty: the pool would hide its files; move them away (or choose another MYAAS_DATA_DIR) first"
    fi
    local other
    other=$(awk -v d="$dir" '$1 !~ /^#/ && $2 == d { print $1 }' "$fstab" 2>/dev/null | head -n1)
    if [ -n "$other" ] && [ "$force" != 1 ]; then
      die "$fstab already mounts $other at $dir; remove that line or pass --force to replace it"
    fi
    if [ -n "$found" ]; then
      local what=${type:-$(sed -n 's/^PTTYPE=//p' <<<"$found")}
      what=${what:-a signature}
      [ "$force" = 1 ] || die "$dev is not empty: it holds ${what}${uuid:+ (UUID $uuid)}. Refusing to overwrite it; pass --force if its data may go"
      say "wiping $what on $dev (--force)"
      wipefs -q -a "$dev"
    fi
    say "making a $kind filesystem on $dev"
    if [ "$kind" = btrfs ]; then mkfs.btrfs -q -f "$dev" >/dev/null; else mkfs.xfs -q -f -m reflink=1 "$dev"; fi
    uuid=$(blkid -p -s UUID -o value "$dev")
    [ -n "$uuid" ] || die "no UUID on $dev after mkfs"
  fi

  fstab_entry "$fstab" "UUID=$uuid" "$dir" "$kind" "$POOL_MOUNT_OPTS" "$force"
  mkdir -p "$dir"
  if mountpoint -q "$dir"; then
    [ "$(findmnt -nro SOURCE "$dir" | sed 's/\[.*//')" = "$dev" ] || die "$dir is already a mount of $(findmnt -nro SOURCE "$dir"); unmount it first"
  else
    # Mounted through the fstab entry itself, so a working entry is what this proves.
    mount --fstab "$fstab" "$dir" || die "mounting $dir from $fstab failed"
  fi
  say "pool on $dev ($kind, UUID $uuid) mounted at $dir"
}
