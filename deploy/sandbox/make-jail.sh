#!/bin/sh
# Build the chroot jail of the sandbox's unshare backend at ROOT from this system's toolchains:
# /usr, the /etc directories the toolchains read, the merged-/usr symlinks, and an empty tmp/ (a
# mount point for a writable, size-capped volume in the pod). Nothing else of the system (no
# /etc/passwd, no /proc, no /dev, none of the service's files) is in it.
#   make-jail.sh ROOT          /usr as hard links: for images (run it in the same layer as the
#                              package installs: no extra space). Not on a live host: every linked
#                              file's link count goes up, and some tools refuse multiply-linked
#                              files (NLTK's WordNet reader does).
#   make-jail.sh --bind ROOT   /usr as a read-only bind mount (root only): for hosts and tests;
#                              undo with `umount ROOT/usr` before deleting ROOT.
set -eu
mode=link
if [ "${1:-}" = "--bind" ]; then mode=bind; shift; fi
[ $# -eq 1 ] || { echo "usage: $0 [--bind] ROOT" >&2; exit 2; }
root=$1
[ ! -e "$root/usr" ] || { echo "$root/usr exists already" >&2; exit 1; }
mkdir -p "$root/etc" "$root/tmp"
if [ "$mode" = bind ]; then
  mkdir "$root/usr"
  mount --bind /usr "$root/usr"
  mount -o remount,bind,ro "$root/usr"
else
  cp -al /usr "$root/usr"
fi
for d in /etc/alternatives /etc/java-17-openjdk /etc/mono /etc/ssl/certs; do
  if [ -e "$d" ]; then
    mkdir -p "$root$(dirname "$d")"
    cp -a "$d" "$root$d"
  fi
done
for link in bin sbin lib lib64 lib32 libx32; do
  if [ -e "/usr/$link" ]; then ln -s "usr/$link" "$root/$link"; fi
done
chmod 0755 "$root" "$root/etc"
# tmp is a mount point in an image; docker's --tmpfs copies the mode up, and it must be writable.
chmod 1777 "$root/tmp"
