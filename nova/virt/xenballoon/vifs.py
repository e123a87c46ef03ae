"""Nova's network_info as our vifs: ({'mac', 'bridge'}, ...).

A Xen vif is a MAC on a bridge of dom0 (xl's vif-bridge script). Nova's
VIFs of type ``bridge`` (Linux bridge) and ``ovs`` (Open vSwitch's bridge,
br-int) name that bridge in vif['network']['bridge']. Anything else (a
vhost-user socket, an SR-IOV function, a macvtap, a VIF with no bridge)
cannot be said in a Xen vif line: refused (InvalidInput: a build is
aborted with the reason, not rescheduled to the same refusal elsewhere),
naming the port, never plugged half.
"""

from nova import exception as nova_exc
from nova.network import model as network_model

# The VIF types whose port is a bridge of dom0.
BRIDGED = (network_model.VIF_TYPE_BRIDGE, network_model.VIF_TYPE_OVS)


def from_network_info(instance, network_info):
    """Our vifs, in Nova's order; InvalidInput if one cannot be."""
    vifs = []
    for vif in network_info or ():
        problem = None
        bridge = (vif.get('network') or {}).get('bridge')
        if vif.get('type') not in BRIDGED:
            problem = 'VIF type %s (xenballoon plugs %s)' % (
                vif.get('type'), ', '.join(BRIDGED))
        elif vif.get('vnic_type', network_model.VNIC_TYPE_NORMAL) != (
                network_model.VNIC_TYPE_NORMAL):
            problem = 'vnic_type %s (xenballoon plugs normal)' % (
                vif.get('vnic_type'))
        elif not bridge:
            problem = 'no bridge named in its network'
        if problem:
            raise nova_exc.InvalidInput(
                reason='port %s of instance %s cannot be a Xen vif: %s' % (
                    vif.get('id'), instance.uuid, problem))
        vifs.append({'mac': vif['address'], 'bridge': bridge})
    return tuple(vifs)
