import Foundation
import KubernetesCore

/// Converts Subscriptions between `dapr.io/v1alpha1` (one `route`) and `dapr.io/v2alpha1` (`routes.rules` and
/// `routes.default`), and answers the API server's ConversionReviews with it.
public enum SubscriptionConversion {
  public static let v1 = "dapr.io/v1alpha1"
  public static let v2 = "dapr.io/v2alpha1"

  public struct ConversionError: Error, Hashable, Sendable, CustomStringConvertible {
    public let description: String
  }

  /// `object` at `apiVersion`. v1 `route` becomes v2 `routes.default`; going back, `routes.default` becomes `route`
  /// and the rules, which v1 cannot express, are dropped.
  public static func convert(_ object: JSONValue, to apiVersion: String) throws(ConversionError) -> JSONValue {
    guard case .object(var converted) = object else {
      throw ConversionError(description: "the object is not a JSON object")
    }
    guard let from = object["apiVersion"]?.stringValue, [v1, v2].contains(from) else {
      throw ConversionError(description: "cannot convert from \(object["apiVersion"]?.stringValue ?? "no apiVersion")")
    }
    guard [v1, v2].contains(apiVersion) else {
      throw ConversionError(description: "cannot convert to \(apiVersion): Subscriptions are \(v1) or \(v2)")
    }
    converted["apiVersion"] = .string(apiVersion)
    guard from != apiVersion, case .object(var spec) = object["spec"] ?? [:] else { return .object(converted) }
    if apiVersion == v2 {
      let route = spec.removeValue(forKey: "route")
      spec["routes"] = route.map { ["default": $0] } ?? [:]
    } else {
      let routes = spec.removeValue(forKey: "routes")
      spec["route"] = routes?["default"] ?? ""
    }
    converted["spec"] = .object(spec)
    return .object(converted)
  }

  /// The answer to one ConversionReview (`apiextensions.k8s.io/v1`): every object converted, or a failure naming
  /// the object that could not be.
  public static func review(_ body: Data) -> (status: Int, body: Data) {
    guard let review = try? JSONCoding.parse(body), let request = review["request"] else {
      return (400, Data("the body is not a ConversionReview\n".utf8))
    }
    let desired = request["desiredAPIVersion"]?.stringValue ?? ""
    var response: JSONObject = ["uid": request["uid"] ?? ""]
    do throws(ConversionError) {
      var objects: [JSONValue] = []
      for object in request["objects"]?.arrayValue ?? [] { objects.append(try convert(object, to: desired)) }
      response["convertedObjects"] = .array(objects)
      response["result"] = ["status": "Success"]
    } catch {
      response["result"] = ["status": "Failure", "message": .string(error.description)]
    }
    let answer: JSONValue = [
      "apiVersion": review["apiVersion"] ?? "apiextensions.k8s.io/v1", "kind": "ConversionReview",
      "response": .object(response),
    ]
    return (200, (try? JSONCoding.encode(answer)) ?? Data())
  }
}
