"""The flavor's disks as sparse raw files, one directory per instance.

``[DEFAULT] instances_path/<instance uuid>/``: ``disk`` (root_gb GiB,
xvda), ``disk.local`` (ephemeral_gb GiB, xvdb), ``disk.swap`` (swap MiB,
xvdc), as Nova's libvirt driver names them; a size of 0 makes no file.
Sparse: the host's disk is taken as the guest writes. The root disk is
blank: guests boot the kernel configured for the backend, not the image.
"""

import os
import shutil

from oslo_log import log as logging
from oslo_utils import units

import nova.conf
from nova import exception as nova_exc

CONF = nova.conf.CONF
LOG = logging.getLogger(__name__)

# (file, Xen device, size in bytes from the flavor)
LAYOUT = (
    ('disk', 'xvda', lambda flavor: flavor.root_gb * units.Gi),
    ('disk.local', 'xvdb', lambda flavor: flavor.ephemeral_gb * units.Gi),
    ('disk.swap', 'xvdc', lambda flavor: flavor.swap * units.Mi),
)


def instance_dir(instance):
    return os.path.join(os.path.abspath(CONF.instances_path), instance.uuid)


def create(instance):
    """Make the flavor's disk files; returns our spec's disks.

    A directory left from before is an error (its files are not ours to
    reuse); on any error, what was made here is removed.
    """
    path = instance_dir(instance)
    wanted = [(name, vdev, size(instance.flavor))
              for name, vdev, size in LAYOUT if size(instance.flavor) > 0]
    if not wanted:
        return ()
    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        os.mkdir(path)
    except FileExistsError as err:
        raise nova_exc.InstanceDeployFailure(
            reason='%s exists, from an earlier build of this instance: its '
                   'files are not reused; remove it' % path) from err
    except OSError as err:
        raise nova_exc.InstanceDeployFailure(
            reason='cannot make %s: %s' % (path, err)) from err
    try:
        disks = []
        for name, vdev, size in wanted:
            disk = os.path.join(path, name)
            with open(disk, 'xb') as f:
                f.truncate(size)
            disks.append({'path': disk, 'vdev': vdev})
        return tuple(disks)
    except OSError as err:
        shutil.rmtree(path, ignore_errors=True)
        raise nova_exc.InstanceDeployFailure(
            reason='cannot make the disks in %s: %s' % (path, err)) from err
    except BaseException:
        shutil.rmtree(path, ignore_errors=True)
        raise


def info(instance):
    """Each disk file: Nova's get_instance_disk_info entries (sizes in B).

    virt_disk_size: the guest's disk; disk_size: what the sparse file
    takes on the host now; over_committed_disk_size: the difference.
    """
    path = instance_dir(instance)
    result = []
    for name, _vdev, _size in LAYOUT:
        disk = os.path.join(path, name)
        try:
            st = os.stat(disk)
        except FileNotFoundError:
            continue
        taken = st.st_blocks * 512
        result.append({'type': 'raw', 'path': disk, 'backing_file': '',
                       'virt_disk_size': st.st_size, 'disk_size': taken,
                       'over_committed_disk_size': max(0, st.st_size -
                                                       taken)})
    return result


def remove(instance):
    """Remove the instance's directory; True if there was one."""
    path = instance_dir(instance)
    if not os.path.isdir(path):
        return False
    shutil.rmtree(path)
    LOG.info('Removed the disks of the instance in %s', path,
             instance=instance)
    return True


def host_gb():
    """(total, used) GiB of the filesystem holding instances_path."""
    path = os.path.abspath(CONF.instances_path)
    while not os.path.exists(path):
        path = os.path.dirname(path)
    st = os.statvfs(path)
    total = st.f_blocks * st.f_frsize
    free = st.f_bavail * st.f_frsize
    return total // units.Gi, (total - free) // units.Gi
