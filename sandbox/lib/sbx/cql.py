"""CQL sessions against the sandbox's Cassandra (python cassandra-driver)."""
import logging
import time

from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT, NoHostAvailable
from cassandra.policies import DCAwareRoundRobinPolicy, WhiteListRoundRobinPolicy
from cassandra import ConsistencyLevel

logging.getLogger("cassandra").setLevel(logging.ERROR)


def session(contact: list[str], local_dc: str | None = None, consistency=ConsistencyLevel.LOCAL_QUORUM):
    """A session whose requests go only to `contact` (no local_dc) or only to `local_dc`'s nodes."""
    policy = DCAwareRoundRobinPolicy(local_dc=local_dc) if local_dc else WhiteListRoundRobinPolicy(contact)
    profile = ExecutionProfile(load_balancing_policy=policy, consistency_level=consistency, request_timeout=30)
    # A node that just reported ready may still be finishing its start on a loaded machine (a
    # JVM pause of several seconds): try again for a while before giving up.
    deadline = time.monotonic() + 30
    while True:
        cluster = Cluster(contact, port=9042, execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                          connect_timeout=10, control_connection_timeout=10)
        try:
            return cluster, cluster.connect()
        except NoHostAvailable:
            cluster.shutdown()
            if time.monotonic() > deadline:
                raise
            time.sleep(2)
