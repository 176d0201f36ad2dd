import Kubernetes
import Logging

/// Which Configurations each app's update stream carries, from a cache of the injected pods (label
/// `dapr.io/sidecar-injected=true`) that keeps only their app id and `dapr.io/config`.
final class AppConfigurations: Sendable {
  let pods: Informer<Pod>

  init(client: any ObjectWatching, clock: any Clock<Duration>, logger: Logger) {
    var configuration = InformerConfiguration<Pod>()
    configuration.labelSelector = "dapr.io/sidecar-injected=true"
    configuration.transform = Self.podFacts
    pods = Informer(client: client, configuration: configuration, clock: clock, logger: logger)
  }

  /// What the operator keeps of a pod: namespace, name, the app-id label and the config annotation.
  @Sendable static func podFacts(_ pod: Pod) -> Pod {
    var metadata: JSONObject = [:]
    for key in ["name", "namespace", "resourceVersion"] { metadata[key] = pod.metadata.json[key] }
    if let appID = pod.metadata.labels?["dapr.io/app-id"] { metadata["labels"] = ["dapr.io/app-id": .string(appID)] }
    if let config = pod.metadata.annotations?["dapr.io/config"] {
      metadata["annotations"] = ["dapr.io/config": .string(config)]
    }
    return Pod(json: ["metadata": .object(metadata)])
  }

  /// The selection as the pod cache stands. Until it has synced, an app it does not know gets every Configuration of
  /// its namespace.
  var selection: ConfigurationSelection {
    ConfigurationSelection(
      pods: pods.store.values.map {
        ConfigurationSelection.Pod(
          namespace: $0.metadata.namespace ?? "", appID: $0.metadata.labels?["dapr.io/app-id"] ?? "",
          configuration: $0.metadata.annotations?["dapr.io/config"])
      })
  }
}
