// The process, cluster and tool helpers live in LocalControlPlane, which the local runner shares with the tests.
@_exported import LocalControlPlane
