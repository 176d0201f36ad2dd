@_exported import AsyncPrimitives
