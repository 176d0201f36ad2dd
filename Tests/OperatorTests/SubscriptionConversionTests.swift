import Foundation
import Kubernetes
import Operator
import Testing

@Suite struct SubscriptionConversionTests {
  static let v1: JSONValue = [
    "apiVersion": "dapr.io/v1alpha1", "kind": "Subscription", "metadata": ["name": "orders", "namespace": "shop"],
    "spec": ["pubsubname": "pubsub", "topic": "orders", "route": "/orders", "deadLetterTopic": "poison"],
    "scopes": ["checkout"],
  ]

  @Test func v1RouteBecomesV2DefaultRouteAndBack() throws {
    let v2 = try SubscriptionConversion.convert(Self.v1, to: SubscriptionConversion.v2)
    #expect(v2["apiVersion"]?.stringValue == "dapr.io/v2alpha1")
    #expect(v2["spec"]?["routes"] == ["default": "/orders"])
    #expect(v2["spec"]?["route"] == nil)
    #expect(v2["spec"]?["deadLetterTopic"]?.stringValue == "poison" && v2["scopes"] == ["checkout"])
    #expect(try SubscriptionConversion.convert(v2, to: SubscriptionConversion.v1) == Self.v1)
  }

  @Test func v2RulesAreDroppedGoingBackToV1() throws {
    let v2: JSONValue = [
      "apiVersion": "dapr.io/v2alpha1", "kind": "Subscription", "metadata": ["name": "orders"],
      "spec": [
        "pubsubname": "pubsub", "topic": "orders",
        "routes": ["rules": [["match": "event.type == 'a'", "path": "/a"]], "default": "/other"],
      ],
    ]
    let v1 = try SubscriptionConversion.convert(v2, to: SubscriptionConversion.v1)
    #expect(v1["spec"]?["route"]?.stringValue == "/other" && v1["spec"]?["routes"] == nil)
  }

  @Test func aReviewConvertsEveryObjectAndEchoesTheUID() throws {
    let review: JSONValue = [
      "apiVersion": "apiextensions.k8s.io/v1", "kind": "ConversionReview",
      "request": ["uid": "u-1", "desiredAPIVersion": "dapr.io/v2alpha1", "objects": [Self.v1, Self.v1]],
    ]
    let (status, body) = SubscriptionConversion.review(try JSONCoding.encode(review))
    #expect(status == 200)
    let answer = try JSONCoding.parse(body)
    #expect(answer["response"]?["uid"]?.stringValue == "u-1")
    #expect(answer["response"]?["result"]?["status"]?.stringValue == "Success")
    #expect(answer["response"]?["convertedObjects"]?.arrayValue?.count == 2)
  }

  @Test func anUnknownVersionFailsTheReviewWithAMessage() throws {
    let review: JSONValue = [
      "request": ["uid": "u-2", "desiredAPIVersion": "dapr.io/v9", "objects": [Self.v1]]
    ]
    let answer = try JSONCoding.parse(SubscriptionConversion.review(try JSONCoding.encode(review)).body)
    #expect(answer["response"]?["result"]?["status"]?.stringValue == "Failure")
    #expect(answer["response"]?["result"]?["message"]?.stringValue?.contains("dapr.io/v9") == true)
    #expect(SubscriptionConversion.review(Data("nope".utf8)).status == 400)
  }
}
