import DaprProto
import GRPCCore
import GRPCProtobuf
import Synchronization

/// A sidecar as placement sees it: one `ReportDaprStatus` stream that reports the host, then acknowledges every
/// order as daprd 1.17 does (`Host{operation, version, id, namespace}`). Used by the tests and the benchmarks.
public final class SimulatedSidecar: Sendable {
  public typealias Order = Dapr_Proto_Placement_V1_PlacementOrder
  public typealias Host = Dapr_Proto_Placement_V1_Host

  public let report: Host
  /// Whether orders are acknowledged (a stuck sidecar does not).
  public let acknowledges: Bool
  /// Whether UPDATE tables are decoded; a benchmark's fleet skips them so the client side does not limit it.
  public let decodesTables: Bool
  private let outgoing: AsyncStream<Host>
  private let outgoingContinuation: AsyncStream<Host>.Continuation
  private let state = Mutex(State())

  struct State {
    var orders: [Order] = []
    var waiters:
      [(id: Int, predicate: @Sendable ([Order]) -> Bool, continuation: CheckedContinuation<[Order], any Error>)] = []
    var nextWaiter = 0
    var ended: (any Error)?? = nil
  }

  /// Whether every order is kept for ``orders`` and ``waitUntil(_:)`` (a long-running sidecar keeps none).
  public let keepsOrders: Bool
  /// Called with each order as it arrives, before it is acknowledged.
  private let onOrder: (@Sendable (Order) -> Void)?

  public init(
    name: String, appID: String, namespace: String = "default", actorTypes: [String] = [], acknowledges: Bool = true,
    decodesTables: Bool = true, keepsOrders: Bool = true, onOrder: (@Sendable (Order) -> Void)? = nil
  ) {
    self.decodesTables = decodesTables
    self.keepsOrders = keepsOrders
    self.onOrder = onOrder
    var host = Host()
    host.name = name
    host.id = appID
    host.namespace = namespace
    host.entities = actorTypes
    host.operation = .report
    host.apiLevel = 20
    report = host
    self.acknowledges = acknowledges
    (outgoing, outgoingContinuation) = AsyncStream.makeStream(of: Host.self)
  }

  /// Opens the stream on `client` and runs it until the server ends it or ``close()`` is called. Returns the
  /// error that ended it (nil when it ended with OK).
  @discardableResult
  public func run<Transport: ClientTransport>(on client: GRPCClient<Transport>) async -> (any Error)? {
    let placement = Dapr_Proto_Placement_V1_Placement.Client(wrapping: client)
    let (report, outgoing, continuation) = (self.report, self.outgoing, outgoingContinuation)
    var ending: (any Error)?
    do {
      var options = CallOptions.defaults
      options.waitForReady = false
      let request = StreamingClientRequest<Host>(producer: { writer in
        try await writer.write(report)
        for await message in outgoing { try await writer.write(message) }
      })
      let deserializer = OrderDeserializer(decodesTables: decodesTables)
      try await placement.reportDaprStatus(
        request: request, serializer: ProtobufSerializer<Host>(), deserializer: deserializer, options: options,
        onResponse: { response in
          for try await order in response.messages {
            self.record(order)
            if self.acknowledges { continuation.yield(Self.acknowledgement(of: order, from: report)) }
          }
          continuation.finish()
        })
    } catch {
      ending = error
    }
    continuation.finish()
    finish(with: ending)
    return ending
  }

  /// Sends a later report (new actor types) on the stream.
  public func send(_ host: Host) { outgoingContinuation.yield(host) }

  /// Closes the stream from the sidecar's side.
  public func close() { outgoingContinuation.finish() }

  /// Every order received so far.
  public var orders: [Order] { state.withLock { $0.orders } }

  /// Waits until the orders received satisfy `predicate`; throws the stream's error if it ends first.
  public func waitUntil(_ predicate: @escaping @Sendable ([Order]) -> Bool) async throws -> [Order] {
    try await withCheckedThrowingContinuation { continuation in
      state.withLock { state in
        if predicate(state.orders) { return continuation.resume(returning: state.orders) }
        if let ended = state.ended {
          return continuation.resume(throwing: ended ?? SimulatedSidecarError.ended)
        }
        state.waiters.append((state.nextWaiter, predicate, continuation))
        state.nextWaiter += 1
      }
    }
  }

  /// Waits for an order of `operation` at `version` (any version when nil).
  public func waitFor(_ operation: String, version: UInt64? = nil) async throws -> Order {
    let orders = try await waitUntil { orders in
      orders.contains { $0.operation == operation && (version == nil || $0.version == version) }
    }
    return orders.last { $0.operation == operation && (version == nil || $0.version == version) }!
  }

  private func record(_ order: Order) {
    onOrder?(order)
    guard keepsOrders else { return }
    state.withLock { state in
      state.orders.append(order)
      let orders = state.orders
      state.waiters.removeAll { waiter in
        guard waiter.predicate(orders) else { return false }
        waiter.continuation.resume(returning: orders)
        return true
      }
    }
  }

  private func finish(with error: (any Error)?) {
    state.withLock { state in
      state.ended = .some(error)
      for waiter in state.waiters { waiter.continuation.resume(throwing: error ?? SimulatedSidecarError.ended) }
      state.waiters = []
    }
  }

  static func operation(of order: Order) -> Dapr_Proto_Placement_V1_HostOperation {
    switch order.operation {
    case "lock": .lock
    case "update": .update
    case "unlock": .unlock
    default: .unknown
    }
  }
}

public enum SimulatedSidecarError: Error, CustomStringConvertible {
  case ended
  public var description: String { "the stream ended" }
}

/// Decodes orders fully, or (for benchmarks) only their operation and version, skipping the tables' bytes.
struct OrderDeserializer: MessageDeserializer {
  let decodesTables: Bool

  func deserialize<Bytes: GRPCContiguousBytes>(_ serializedMessageBytes: Bytes) throws -> SimulatedSidecar.Order {
    if decodesTables {
      return try ProtobufDeserializer<SimulatedSidecar.Order>().deserialize(serializedMessageBytes)
    }
    return try serializedMessageBytes.withUnsafeBytes { try SimulatedSidecar.orderHeader(of: $0) }
  }
}

extension SimulatedSidecar {
  /// An order's operation and version (the rest left empty), read from its encoding without decoding its tables:
  /// for clients that do not need them.
  public static func orderHeader(of raw: UnsafeRawBufferPointer) throws -> Order {
    var order = Order()
    var reader = WireReader(bytes: raw)
    while !reader.atEnd {
      let key = try reader.varint()
      switch (key >> 3, key & 7) {
      case (2, 2): order.operation = String(decoding: try reader.lengthDelimited(), as: UTF8.self)
      case (3, 0): order.version = try reader.varint()
      case (_, 0): _ = try reader.varint()
      case (_, 1): try reader.skip(8)
      case (_, 2): _ = try reader.lengthDelimited()
      case (_, 5): try reader.skip(4)
      default: throw RPCError(code: .internalError, message: "unsupported protobuf wire type")
      }
    }
    return order
  }

  /// The acknowledgement daprd 1.17 sends for `order`: `Host{operation, version, id, namespace}`.
  public static func acknowledgement(of order: Order, from report: Host) -> Host {
    var ack = Host()
    ack.id = report.id
    ack.namespace = report.namespace
    ack.operation = operation(of: order)
    ack.version = order.version
    return ack
  }
}

/// Just enough of the protobuf wire format to read two scalar fields and skip the rest.
struct WireReader {
  let bytes: UnsafeRawBufferPointer
  var offset = 0

  init(bytes: UnsafeRawBufferPointer) { self.bytes = bytes }

  var atEnd: Bool { offset >= bytes.count }

  mutating func varint() throws -> UInt64 {
    var value: UInt64 = 0
    var shift: UInt64 = 0
    while offset < bytes.count, shift < 64 {
      let byte = bytes[offset]
      offset += 1
      value |= UInt64(byte & 0x7F) << shift
      if byte & 0x80 == 0 { return value }
      shift += 7
    }
    throw RPCError(code: .internalError, message: "truncated varint")
  }

  mutating func skip(_ count: Int) throws {
    guard offset + count <= bytes.count else { throw RPCError(code: .internalError, message: "truncated field") }
    offset += count
  }

  mutating func lengthDelimited() throws -> UnsafeRawBufferPointer {
    let length = Int(try varint())
    let start = offset
    try skip(length)
    return UnsafeRawBufferPointer(rebasing: bytes[start..<start + length])
  }
}
