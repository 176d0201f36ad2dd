@_exported import AsyncPrimitives
@_exported import ControlPlaneCore
