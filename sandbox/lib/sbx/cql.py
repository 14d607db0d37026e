"""CQL sessions against the sandbox's Cassandra (python cassandra-driver)."""
import logging

from cassandra.cluster import Cluster, ExecutionProfile, EXEC_PROFILE_DEFAULT
from cassandra.policies import DCAwareRoundRobinPolicy, WhiteListRoundRobinPolicy
from cassandra import ConsistencyLevel

logging.getLogger("cassandra").setLevel(logging.ERROR)


def session(contact: list[str], local_dc: str | None = None, consistency=ConsistencyLevel.LOCAL_QUORUM):
    """A session whose requests go only to `contact` (no local_dc) or only to `local_dc`'s nodes."""
    policy = DCAwareRoundRobinPolicy(local_dc=local_dc) if local_dc else WhiteListRoundRobinPolicy(contact)
    profile = ExecutionProfile(load_balancing_policy=policy, consistency_level=consistency, request_timeout=30)
    cluster = Cluster(contact, port=9042, execution_profiles={EXEC_PROFILE_DEFAULT: profile},
                      connect_timeout=10, control_connection_timeout=10)
    return cluster, cluster.connect()
