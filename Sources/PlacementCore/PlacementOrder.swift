import DaprMessages

/// A sidecar's report of itself: `name` (`ip:port`), app `id`, `namespace`, actor types in `entities`.
public typealias PlacementHost = Dapr_Proto_Placement_V1_Host
public typealias PlacementTables = Dapr_Proto_Placement_V1_PlacementTables

/// One order of a dissemination round, as a value.
public enum PlacementOrder: Hashable, Sendable {
  case lock(version: UInt64)
  case update(version: UInt64, tables: PlacementTables)
  case unlock(version: UInt64)

  public var version: UInt64 {
    switch self {
    case .lock(let version), .update(let version, _), .unlock(let version): version
    }
  }

  /// The operation string on the wire.
  public var operation: String {
    switch self {
    case .lock: "lock"
    case .update: "update"
    case .unlock: "unlock"
    }
  }

  /// The message sent to sidecars.
  public var message: Dapr_Proto_Placement_V1_PlacementOrder {
    var order = Dapr_Proto_Placement_V1_PlacementOrder()
    order.operation = operation
    order.version = version
    if case .update(_, let tables) = self { order.tables = tables }
    return order
  }
}

extension PlacementTables {
  /// The tables for `hosts` (actor hosts only) at `version`.
  ///
  /// Each `load_map` entry carries only what daprd reads from it (`name`, `id`, `port`, `load`): daprd rebuilds its
  /// rings from the map's keys and reads the address and app id from the entry. Dapr also copies every host's
  /// whole entity list into every entry, which is what pushes its tables past daprd's 4 MiB receive limit at
  /// about 100 types by 40 hosts.
  public static func make(version: UInt64, replicationFactor: Int, hosts: some Sequence<PlacementHost>) -> Self {
    var tables = PlacementTables()
    tables.version = String(version)
    tables.replicationFactor = Int64(replicationFactor)
    for host in hosts {
      var entry = PlacementHost()
      entry.name = host.name
      entry.id = host.id
      entry.port = host.port
      entry.load = host.load
      for type in host.entities {
        tables.entries[type, default: Dapr_Proto_Placement_V1_PlacementTable()].loadMap[host.name] = entry
      }
    }
    return tables
  }
}
