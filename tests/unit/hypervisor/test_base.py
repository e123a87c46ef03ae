"""The backend contract's plain data: DomainSpec in a flow's store."""

from xenballoon_driver.hypervisor import base

UUID = '1b4e28ba-2fa1-11d2-883f-0016d3cca427'


def test_spec_round_trips_with_its_uuid():
    spec = base.DomainSpec('vm1', 1024, vcpus=2, guest_type='hvm', uuid=UUID)
    assert spec.to_dict()['uuid'] == UUID
    assert base.DomainSpec.from_dict(spec.to_dict()) == spec


def test_spec_stored_before_uuids_resumes_without_one():
    stored = {'name': 'vm1', 'memory_mb': 1024, 'vcpus': 1,
              'guest_type': 'pv'}
    spec = base.DomainSpec.from_dict(stored)
    assert spec == base.DomainSpec('vm1', 1024)
    assert spec.uuid is None


def test_domain_info_without_uuid_has_none():
    info = base.DomainInfo(name='vm1', domid=1, memory_mb=1024, vcpus=1,
                           state='running')
    assert info.uuid is None
