"""Nova's own ComputeManager starts with our driver, as nova-compute does.

nova.service.Service.start() runs: look up this host's service record,
``init_host(service_ref)`` (None on a first start: then the driver must
report no instance in ``_sanity_check_new_host``), create the record,
``pre_start_hook`` (the resource tracker's first update). These tests do
the same against a real (SQLite) Nova database, nothing of Nova patched:
a first start on a fresh host, then a restart with a guest running.
"""

import threading
import uuid
from wsgiref import simple_server

import pytest

pytest.importorskip('nova.compute.manager')

from nova.compute import manager as manager_mod  # noqa: E402
from nova.compute import power_state  # noqa: E402
from nova.compute import vm_states  # noqa: E402
from nova import context as nova_context  # noqa: E402
from nova.db import migration  # noqa: E402
from nova import objects  # noqa: E402
from nova import rpc  # noqa: E402
from nova import thread_pool_factory  # noqa: E402

from tests import conftest as base  # noqa: E402
from tests.nova import conftest  # noqa: E402
from tests.nova import test_compute_driver as helpers  # noqa: E402

GiB = base.GiB
NODE = conftest.NODE


@pytest.fixture
def placement(tmp_path):
    """Real placement (openstack-placement), SQLite, served in a thread.

    Its own configuration, noauth2: a request's X-Auth-Token is trusted.
    Returns its URL.
    """
    from oslo_config import cfg
    from oslo_policy import opts as policy_opts
    from placement import conf as placement_conf
    from placement.db.sqlalchemy import migration as placement_migration
    from placement import db_api
    from placement import deploy

    conf = cfg.ConfigOpts()
    placement_conf.register_opts(conf)
    conf.set_default('connection', 'sqlite:///%s' % (
        tmp_path / 'placement.db'), group='placement_database')
    conf([], default_config_files=[])
    conf.set_override('auth_strategy', 'noauth2', group='api')
    policy_opts.set_defaults(conf, enforce_new_defaults=False)
    db_api.configure(conf)
    placement_migration.create_schema(db_api.get_placement_engine())
    server = simple_server.make_server(
        '127.0.0.1', 0, deploy.loadapp(conf), handler_class=QuietHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield 'http://127.0.0.1:%d' % server.server_port
    server.shutdown()
    thread.join()
    server.server_close()


class QuietHandler(simple_server.WSGIRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def nova_db(nova_conf, placement, tmp_path):
    """Nova's main database (SQLite, Nova's schema), placement, a fake bus."""
    from oslo_config import fixture as config_fixture
    from oslo_messaging import conffixture

    bus = conffixture.ConfFixture(nova_conf)
    bus.setUp()
    bus.transport_url = 'fake:/'
    fixture = config_fixture.Config(nova_conf)
    fixture.setUp()
    fixture.config(group='database',
                   connection='sqlite:///%s' % (tmp_path / 'nova.db'))
    from keystoneauth1 import loading as ks_loading
    fixture.register_opts(
        ks_loading.get_auth_plugin_conf_options('admin_token'),
        group='placement')
    fixture.config(group='placement', auth_type='admin_token',
                   token='admin', endpoint=placement)
    # [DEFAULT] state_path (/var/lib/nova) exists on a compute host.
    (tmp_path / 'nova').mkdir()
    migration.db_sync(database='main')
    rpc.init(nova_conf)
    yield nova_conf
    # The compute manager's thread pools (native threading mode) end with
    # the test: Nova's functional harness starts from none.
    thread_pool_factory.reset_all_executors()
    rpc.cleanup()
    fixture.cleanUp()
    bus.cleanUp()


class NovaCompute:
    """nova-compute's start (nova.service.Service.start) on one host."""

    def __init__(self, backend):
        self.context = nova_context.get_admin_context()
        self.manager = manager_mod.ComputeManager()
        # Our driver loads its backend at init_host unless it has one: a
        # simulated host shared across restarts, on a virtual clock.
        self.manager.driver.driver.backend = backend

    def start(self):
        service = objects.Service.get_by_host_and_binary(
            self.context, NODE, 'nova-compute')
        self.manager.init_host(service)
        if service is None:
            service = objects.Service(self.context, host=NODE,
                                      binary='nova-compute', topic='compute',
                                      report_count=0)
            service.create()
        self.manager.pre_start_hook(service)
        return service


@pytest.fixture
def host(nova_db):
    return conftest.Compute(nova_db, base.make_scenario())


def inventory(placement, node):
    """The node's inventory as placement holds it."""
    import requests

    reply = requests.get(
        '%s/resource_providers/%s/inventories' % (placement, node.uuid),
        headers={'x-auth-token': 'admin'}, timeout=30)
    assert reply.status_code == 200, reply.text
    return reply.json()['inventories']


def create_instance(context, node, memory_mb, vcpus=2):
    """An ACTIVE instance of this host in Nova's database."""
    flavor = objects.Flavor(name='f%d' % memory_mb, memory_mb=memory_mb,
                            vcpus=vcpus, root_gb=0, ephemeral_gb=0, swap=0,
                            flavorid='f%d' % memory_mb, extra_specs={})
    instance = objects.Instance(
        context, uuid=str(uuid.uuid4()), flavor=flavor, host=NODE,
        node=NODE, compute_id=node.id, memory_mb=memory_mb, vcpus=vcpus,
        vm_state=vm_states.ACTIVE, power_state=power_state.RUNNING,
        project_id='p', user_id='u')
    instance.create()
    return instance


# Nova's and placement's database engines are set up once per process:
# the whole story is one test, from a fresh host to restarts.
def test_compute_service_starts_and_restarts_with_our_driver(host,
                                                             placement):
    from nova import exception as nova_exc

    # 1. A fresh host, no service record: nova-compute's first start.
    first = NovaCompute(host.backend)
    assert objects.Service.get_by_host_and_binary(
        first.context, NODE, 'nova-compute') is None
    service = first.start()
    assert service.id is not None
    node = objects.ComputeNode.get_by_host_and_nodename(
        first.context, NODE, NODE)
    assert node.memory_mb == 64 * GiB
    # The resource tracker's first update reached placement.
    assert inventory(placement, node)['MEMORY_MB']['total'] == 64 * GiB

    # 2. A guest, spawned as Nova does, keeps its instance's UUID.
    instance = create_instance(first.context, node, 4 * GiB)
    first.manager.driver.spawn(first.context, instance, helpers.image(), [],
                               None, {})
    assert first.manager.driver.list_instance_uuids() == [instance.uuid]

    # 3. nova-compute restarts: a new manager and driver, the same host.
    again = NovaCompute(host.backend)
    assert again.start().id == service.id
    assert again.manager.driver.list_instance_uuids() == [instance.uuid]
    assert again.manager.driver.instance_exists(instance)
    assert again.manager.driver.get_info(instance).state == (
        power_state.RUNNING)
    instance.refresh()
    assert (instance.vm_state, instance.power_state, instance.task_state) == (
        vm_states.ACTIVE, power_state.RUNNING, None)

    # 4. Pointed at a database that does not know this host, Nova's own
    # sanity check now sees our guest and refuses to start.
    service.destroy()
    with pytest.raises(nova_exc.InvalidConfiguration,
                       match='existing instances'):
        NovaCompute(host.backend).manager.init_host(None)
