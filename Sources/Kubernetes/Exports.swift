// The values, models and pure state machines of the client live in KubernetesCore; users of the client get them
// with it.
@_exported import KubernetesCore
