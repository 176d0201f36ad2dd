import ControlPlaneKit
import DaprProto
import Foundation
import GRPCCore
import Logging
import SwiftProtobuf

/// `dapr.proto.sentry.v1.CA`: the gRPC face of the ``CertificateAuthority``.
public struct CAService: Dapr_Proto_Sentry_V1_CA.SimpleServiceProtocol {
  let authority: CertificateAuthority
  let metrics: SentryMetrics
  let logger: Logger

  public init(authority: CertificateAuthority, metrics: SentryMetrics, logger: Logger) {
    self.authority = authority
    self.metrics = metrics
    self.logger = logger
  }

  public func signCertificate(
    request: Dapr_Proto_Sentry_V1_SignCertificateRequest, context: ServerContext
  ) async throws -> Dapr_Proto_Sentry_V1_SignCertificateResponse {
    metrics.requestsReceived.increment()
    let started = ContinuousClock.now
    defer { metrics.signDuration.record(ContinuousClock.now - started) }
    let signRequest = SignRequest(request)
    logger.debug(
      "Processing SignCertificate request for \(signRequest.namespace)/\(signRequest.id) (validator: \(signRequest.validator?.rawValue ?? "default"))"
    )
    do {
      let signed = try await authority.sign(signRequest)
      metrics.signed.increment()
      var response = Dapr_Proto_Sentry_V1_SignCertificateResponse()
      response.workloadCertificate = Data(signed.chainPEM.utf8)
      response.trustChainCertificates = [Data(signed.anchorsPEM.utf8)]
      response.validUntil = Google_Protobuf_Timestamp(date: signed.validUntil)
      if let jwt = signed.jwt { response.jwt = Google_Protobuf_StringValue(jwt) }
      response.perAudienceJwts = signed.perAudienceJWTs.mapValues { Google_Protobuf_StringValue($0) }
      return response
    } catch {
      metrics.failed.increment()
      logger.debug(
        "SignCertificate refused",
        metadata: ["app-id": "\(signRequest.id)", "namespace": "\(signRequest.namespace)", "error": "\(error.message)"])
      throw RPCError(code: error.code.rpcCode, message: error.message)
    }
  }
}

extension SignFailure.Code {
  var rpcCode: RPCError.Code {
    switch self {
    case .invalidArgument: .invalidArgument
    case .permissionDenied: .permissionDenied
    case .internal: .internalError
    }
  }
}
