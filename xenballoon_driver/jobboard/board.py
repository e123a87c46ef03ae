"""A host's board on taskflow's Redis or etcd jobboard.

One board per host (``[jobboard] board_name``): the board is a Redis key
namespace (redis_board.py) or an etcd key prefix (etcd_board.py), so a
conductor lists and claims its own host's jobs only. The backend's module
is imported when a board is made: taskflow's Redis board imports
redis-py, about 0.15 s of CPU that every CLI command would otherwise pay
with the jobboard off (the default); etcd3gw costs about 0.1 s.
"""

import contextlib

from taskflow import exceptions as tf_exceptions

from xenballoon_driver.conf import jobboard as jobboard_conf
from xenballoon_driver import exception


def name(conf, host):
    return conf.jobboard.board_name.replace(jobboard_conf.HOST_FIELD, host)


def where(conf):
    """The board's URL without its password, for messages."""
    if conf.jobboard.backend == 'etcd':
        return '%s://%s:%d' % jobboard_conf.check_etcd_url(conf.jobboard.url)
    host, port, db, _password = jobboard_conf.check_url(conf.jobboard.url)
    return 'redis://%s:%d/%d' % (host, port, db)


def make(conf, host, persistence):
    """The host's board, not connected (connect() or use connected())."""
    if conf.jobboard.backend == 'etcd':
        return _make_etcd(conf, host, persistence)
    redis_host, port, db, password = jobboard_conf.check_url(
        conf.jobboard.url)
    board_conf = {'host': redis_host, 'port': port, 'db': db,
                  'namespace': name(conf, host),
                  # A server that does not answer is a failure, not a hang.
                  'socket_timeout': 10, 'socket_connect_timeout': 5}
    if password:
        board_conf['password'] = password
    from xenballoon_driver.jobboard import redis_board
    return redis_board.Board(name(conf, host), board_conf,
                             conf.jobboard.claim_expiry_s,
                             persistence=persistence)


def _make_etcd(conf, host, persistence):
    protocol, etcd_host, port = jobboard_conf.check_etcd_url(
        conf.jobboard.url)
    # The board's keys: /taskflow/jobs/<board name>/...
    board_conf = {'host': etcd_host, 'port': port, 'protocol': protocol,
                  'path': name(conf, host),
                  # A server that does not answer is a failure, not a hang.
                  'timeout': 10}
    from xenballoon_driver.jobboard import etcd_board
    return etcd_board.Board(name(conf, host), board_conf,
                            conf.jobboard.claim_expiry_s,
                            persistence=persistence)


@contextlib.contextmanager
def connected(conf, host, persistence):
    """The host's board, connected; JobboardUnavailable if it cannot be."""
    board = make(conf, host, persistence)
    try:
        board.connect()
    except tf_exceptions.JobFailure as err:
        raise exception.JobboardUnavailable(where=where(conf),
                                            reason=_reason(err))
    try:
        yield board
    finally:
        board.close()


def _reason(err):
    # The client's own words (redis-py's); ours if it has none (etcd3gw's
    # errors print empty).
    cause = getattr(err, 'cause', None) or err.__cause__
    return (str(cause) or str(err) if cause else str(err)).splitlines()[0]


class Boards:
    """Connected boards by host name, each opened on first use.

    For a poster that serves many hosts (the reference scheduler): one
    connection per board, closed together by close().
    """

    def __init__(self, conf):
        self.conf = conf
        self._open = {}

    def get(self, driver):
        """The board of ``driver``'s host (a started XenBalloonDriver)."""
        board = self._open.get(driver.host)
        if board is None:
            board = make(self.conf, driver.host, driver.persistence)
            try:
                board.connect()
            except tf_exceptions.JobFailure as err:
                raise exception.JobboardUnavailable(where=where(self.conf),
                                                    reason=_reason(err))
            self._open[driver.host] = board
        return board

    def close(self):
        for board in self._open.values():
            board.close()
        self._open.clear()
