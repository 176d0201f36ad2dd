import GRPCCore
import ServiceLifecycle

/// Runs a grpc-swift server as a `Service`: it serves until the service group shuts down, then stops accepting
/// new RPCs and lets the running ones finish.
public struct GRPCServerService<Transport: ServerTransport>: Service {
  public let server: GRPCServer<Transport>

  public init(_ server: GRPCServer<Transport>) {
    self.server = server
  }

  public func run() async throws {
    try await withGracefulShutdownHandler {
      try await server.serve()
    } onGracefulShutdown: {
      server.beginGracefulShutdown()
    }
  }
}
