"""Every real mounted filesystem: size, use and inodes.

    [{"mount": "/", "device": "/dev/vda1", "fstype": "ext4", "total": 52521566208,
      "used": 11811160064, "free": 38012354560, "percent": 23.7,
      "inodes_total": 3276800, "inodes_used": 265311, "inodes_percent": 8.1}]

Skipped: pseudo filesystems (everything "nodev" in /proc/filesystems except network
and ZFS), read-only images (squashfs, erofs, iso9660...), fuse.* (gvfs, lxcfs, portals),
bind mounts of a device already listed (the shortest mount point wins) and files
bind-mounted over files (a container's /etc/hosts).
Network filesystems get os.statvfs() in a daemon thread with a timeout: a hung NFS
server skips that mount instead of hanging the report.
"""

from __future__ import annotations

import os

import psutil

from ._util import bounded

TYPE_CHECKING = False
if TYPE_CHECKING:  # typing costs ~2 ms to import; annotations are strings here
    from typing import Any, List, Optional, Set

# Filesystems on the network: real, but their statvfs() can hang.
NETWORK_FS = frozenset({"nfs", "nfs4", "cifs", "smb3", "smbfs", "ceph", "glusterfs",
                        "9p", "lustre", "gpfs", "afs", "ocfs2", "gfs2"})
# Device-backed but not worth watching: read-only images are always "100% full".
SKIP_FS = frozenset({"squashfs", "erofs", "iso9660", "udf", "cramfs", "romfs"})
NETWORK_TIMEOUT = 2.0


def device_fstypes(path: str = "/proc/filesystems") -> Set[str]:
    """Filesystem types that need a block device (no "nodev" flag), plus zfs."""
    kinds = {"zfs"}  # ZFS registers as nodev but lives on real disks
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            for line in f:
                if not line.startswith("nodev"):
                    kinds.add(line.strip())
    except OSError:
        kinds.update({"ext2", "ext3", "ext4", "xfs", "btrfs", "vfat", "f2fs", "fuseblk", "jfs"})
    return kinds


def wanted(fstype: str, device_kinds: Set[str]) -> bool:
    if fstype in SKIP_FS or fstype.startswith("fuse."):
        return False
    return fstype in device_kinds or fstype in NETWORK_FS


def usage(mount: str, device: str, fstype: str, st: Any) -> Optional[dict]:
    """One filesystem entry from a statvfs result; None for a zero-sized filesystem."""
    total = st.f_blocks * st.f_frsize
    if total <= 0:
        return None
    free = st.f_bavail * st.f_frsize          # what unprivileged users can still write
    used = (st.f_blocks - st.f_bfree) * st.f_frsize
    # Like df and psutil: percent of what users can use (root's reserve left out).
    usable = used + free
    percent = round(used / usable * 100.0, 1) if usable > 0 else 0.0
    inodes_total = inodes_used = inodes_percent = None
    if st.f_files > 0:  # btrfs and some network filesystems report no inode limit
        inodes_total = int(st.f_files)
        inodes_used = int(st.f_files - st.f_ffree)
        inodes_percent = round(inodes_used / inodes_total * 100.0, 1)
    return {"mount": mount, "device": device, "fstype": fstype, "total": int(total),
            "used": int(used), "free": int(free), "percent": percent,
            "inodes_total": inodes_total, "inodes_used": inodes_used,
            "inodes_percent": inodes_percent}


def collect(config: Any) -> List[dict]:
    kinds = device_fstypes()
    parts = [p for p in psutil.disk_partitions(all=True) if wanted(p.fstype, kinds)]
    parts.sort(key=lambda p: (len(p.mountpoint), p.mountpoint))
    seen_devices: Set[str] = set()
    seen_mounts: Set[str] = set()
    out = []
    for p in parts:
        if p.device in seen_devices or p.mountpoint in seen_mounts:
            continue  # a bind mount (or an over-mount) of something already listed
        if p.fstype not in NETWORK_FS and not os.path.isdir(p.mountpoint):
            continue  # a file bind-mounted over another (a container's /etc/hosts)
        try:
            if p.fstype in NETWORK_FS:
                st = bounded(lambda: os.statvfs(p.mountpoint), NETWORK_TIMEOUT,
                             f"statvfs({p.mountpoint!r})")
            else:
                st = os.statvfs(p.mountpoint)
        except (OSError, TimeoutError):
            continue  # an ejected disk or a hung server skips this mount, not the report
        entry = usage(p.mountpoint, p.device, p.fstype, st)
        if entry is None:
            continue
        seen_devices.add(p.device)
        seen_mounts.add(p.mountpoint)
        out.append(entry)
    out.sort(key=lambda e: e["mount"])
    return out
