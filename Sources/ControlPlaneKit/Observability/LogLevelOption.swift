import ArgumentParser
import Logging

/// Dapr's `--log-level` values: `debug`, `info`, `warn`, `error`, `fatal`.
public enum DaprLogLevel: String, CaseIterable, Sendable, ExpressibleByArgument {
  case debug, info, warn, error, fatal

  /// Accepts Dapr's names case-insensitively, and `warning` for `warn`.
  public init?(argument: String) {
    switch argument.lowercased() {
    case "warning": self = .warn
    case let name: self.init(rawValue: name)
    }
  }

  /// The swift-log level that lets exactly this level and the ones above it through.
  public var loggerLevel: Logger.Level {
    switch self {
    case .debug: .debug
    case .info: .info
    case .warn: .warning
    case .error: .error
    case .fatal: .critical
    }
  }
}

extension Logger.Level {
  /// The name Dapr (logrus) writes in the `level` field.
  public var daprName: String {
    switch self {
    case .trace, .debug: "debug"
    case .info, .notice: "info"
    case .warning: "warning"
    case .error: "error"
    case .critical: "fatal"
    }
  }
}
