"""The apigee-multiregion sandbox: two real kube-apiservers (etcd + kwok for kubelets) and a real
Apache Cassandra ring on loopback addresses, plus stand-ins for apigeectl and Apigee's setup jobs.

Everything binds to 127.0.0.0/8. Processes are started and stopped by PID (see proc.py).
"""
