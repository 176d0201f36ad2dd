import Foundation
import Kubernetes
import LocalControlPlane

/// The PromQL the chart's monitoring objects carry: every alert's expression and every dashboard query.
enum MonitoringQueries {
  /// Alert and recording expressions of the PrometheusRules, and the targets' `expr` of every dashboard panel and
  /// the queries of its template variables.
  static func expressions(in install: RenderedInstall) -> [String] {
    var expressions: [String] = []
    for rule in install.objects(kind: "PrometheusRule") {
      for group in rule["spec"]?["groups"]?.arrayValue ?? [] {
        for item in group["rules"]?.arrayValue ?? [] {
          if let expression = item["expr"]?.stringValue { expressions.append(expression) }
        }
      }
    }
    for map in install.objects(kind: "ConfigMap") {
      for value in (map["data"]?.objectValue ?? [:]).values {
        guard let text = value.stringValue, let dashboard = try? JSONCoding.parse(Data(text.utf8)),
          dashboard["panels"] != nil
        else { continue }
        collect(dashboard, into: &expressions)
      }
    }
    return expressions
  }

  /// Every `expr` and variable `query` string in a dashboard.
  static func collect(_ value: JSONValue, into expressions: inout [String]) {
    switch value {
    case .object(let object):
      for (key, member) in object {
        if key == "expr" || key == "query", let text = member.stringValue {
          expressions.append(text)
        } else if key == "query", let text = member["query"]?.stringValue {
          expressions.append(text)
        } else {
          collect(member, into: &expressions)
        }
      }
    case .array(let array):
      for member in array { collect(member, into: &expressions) }
    default:
      break
    }
  }

  /// The series the expressions select, by name. The product's metrics all start with `dapr_` or `process_`, and no
  /// PromQL function, keyword or label of these queries does, so a name is any such identifier.
  static func metricNames(in install: RenderedInstall) -> Set<String> {
    var names: Set<String> = []
    let pattern = try! Regex(#"\b(?:dapr|process)_[a-z0-9_]+\b"#)
    for expression in expressions(in: install) {
      for match in expression.matches(of: pattern) { names.insert(String(expression[match.range])) }
    }
    return names
  }
}
