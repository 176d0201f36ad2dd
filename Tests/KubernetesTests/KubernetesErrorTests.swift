import Foundation
import NIOCore
import Testing

@testable import Kubernetes
@testable import KubernetesCore

@Suite struct KubernetesErrorTests {
  @Test(
    "API server answers map to specific error codes",
    arguments: [
      (404, "NotFound", KubernetesError.Code.notFound), (409, "AlreadyExists", .alreadyExists),
      (409, "Conflict", .conflict), (410, "Expired", .gone), (422, "Invalid", .invalid), (403, "Forbidden", .forbidden),
      (401, "Unauthorized", .unauthorized), (400, "BadRequest", .badRequest),
      (429, "TooManyRequests", .tooManyRequests),
      (500, "InternalError", .internalError), (503, "ServiceUnavailable", .serviceUnavailable),
      (504, "Timeout", .timeout),
      (418, "Teapot", .unexpectedStatus),
    ])
  func mapping(status: Int, reason: String, code: KubernetesError.Code) {
    let body = ByteBuffer(
      string:
        #"{"kind":"Status","apiVersion":"v1","status":"Failure","message":"it went wrong","reason":"\#(reason)","code":\#(status)}"#
    )
    let error = KubernetesClient.errorResponse(status: status, body: body, request: "GET /x")
    #expect(error.code == code)
    #expect(error.message == "it went wrong")
    #expect(error.httpStatus == status)
  }

  @Test func invalidAnswersCarryTheFieldsThatAreWrong() {
    let body = ByteBuffer(
      string: #"""
        {"kind":"Status","status":"Failure","reason":"Invalid","code":422,
         "message":"Component.dapr.io \"x\" is invalid: spec.version: Required value",
         "details":{"name":"x","kind":"Component","causes":[{"reason":"FieldValueRequired","message":"Required value","field":"spec.version"}]}}
        """#)
    let error = KubernetesClient.errorResponse(status: 422, body: body, request: "POST /x")
    #expect(error.code == .invalid)
    #expect(error.causes == [.init(field: "spec.version", reason: "FieldValueRequired", message: "Required value")])
  }

  @Test func anAnswerWithoutAStatusStillSaysWhatCameBack() {
    let error = KubernetesClient.errorResponse(
      status: 502, body: ByteBuffer(string: "<html>bad gateway</html>"), request: "GET /api")
    #expect(error.code == .unexpectedStatus)
    #expect(error.message.contains("bad gateway"))
    #expect(error.message.contains("GET /api"))
  }

  @Test func onlyTransientErrorsAreRetryable() {
    #expect(KubernetesError(code: .serviceUnavailable, message: "").isRetryable)
    #expect(KubernetesError(code: .unreachable, message: "").isRetryable)
    #expect(!KubernetesError(code: .forbidden, message: "").isRetryable)
    #expect(!KubernetesError(code: .invalid, message: "").isRetryable)
  }

  @Test(
    "Watch lines decode into events",
    arguments: [
      (#"{"type":"ADDED","object":{"metadata":{"name":"a","resourceVersion":"5"}}}"#, "added a"),
      (#"{"type":"MODIFIED","object":{"metadata":{"name":"a","resourceVersion":"6"}}}"#, "modified a"),
      (#"{"type":"DELETED","object":{"metadata":{"name":"a","resourceVersion":"7"}}}"#, "deleted a"),
      (#"{"type":"BOOKMARK","object":{"kind":"ConfigMap","metadata":{"resourceVersion":"99"}}}"#, "bookmark 99"),
    ])
  func watchLines(line: String, expected: String) throws {
    let event = try WatchLine.decode(ByteBuffer(string: line), as: ConfigMap.self, request: "WATCH")
    let description: String =
      switch event {
      case .added(let object): "added \(object.metadata.name ?? "")"
      case .modified(let object): "modified \(object.metadata.name ?? "")"
      case .deleted(let object): "deleted \(object.metadata.name ?? "")"
      case .bookmark(let version): "bookmark \(version)"
      }
    #expect(description == expected)
  }

  @Test func aWatchErrorOf410IsGone() {
    let line =
      #"{"type":"ERROR","object":{"kind":"Status","status":"Failure","message":"too old resource version: 5 (99)","reason":"Expired","code":410}}"#
    do {
      _ = try WatchLine.decode(ByteBuffer(string: line), as: ConfigMap.self, request: "WATCH")
      Issue.record("an ERROR line decoded")
    } catch {
      #expect(error.code == .gone)
      #expect(error.message.contains("too old"))
    }
  }

  @Test func aGarbageWatchLineIsAMalformedResponse() {
    do {
      _ = try WatchLine.decode(ByteBuffer(string: "<html>"), as: ConfigMap.self, request: "WATCH")
      Issue.record("garbage decoded")
    } catch {
      #expect(error.code == .malformedResponse)
    }
  }
}
