/// Facts about this build, reported in logs (`ver`) and `--version`.
public enum BuildInfo {
  /// This project's version.
  public static let version = "0.1.0"
  /// The Dapr release whose sidecars (`daprd`) this control plane is built to serve.
  public static let daprCompatibility = "1.18"
}
