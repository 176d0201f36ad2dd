/// Rewrites Go-style command lines into swift-argument-parser's syntax, so that the manifests and scripts written
/// for Dapr's binaries work unchanged.
///
/// Go's `flag` package accepts `-name` as well as `--name`, and boolean flags as `--name`, `--name=true` or
/// `--name=false` (but never with the value as a separate argument). This turns `-name` into `--name` and
/// `--flag=false` into `--no-flag` for the boolean flags it is told about (which are declared with
/// `inversion: .prefixedNo`). Everything after a bare `--` is left alone.
public enum GoFlagSyntax {
  public static func normalize(_ arguments: [String], booleanFlags: Set<String>) -> [String] {
    var result: [String] = []
    result.reserveCapacity(arguments.count)
    var passThrough = false
    for argument in arguments {
      if passThrough || argument == "--" {
        passThrough = true
        result.append(argument)
        continue
      }
      result.append(rewrite(argument, booleanFlags: booleanFlags))
    }
    return result
  }

  private static func rewrite(_ argument: String, booleanFlags: Set<String>) -> String {
    var body: Substring
    if argument.hasPrefix("--") {
      body = argument.dropFirst(2)
    } else if argument.hasPrefix("-"), argument.count > 2, argument.dropFirst().first?.isLetter == true {
      // A single-dash long flag (`-port`); single letters (`-h`) stay short flags.
      body = argument.dropFirst()
    } else {
      return argument
    }
    guard let first = body.first, first.isLetter else { return argument }
    let name: Substring
    let value: Substring?
    if let equals = body.firstIndex(of: "=") {
      name = body[..<equals]
      value = body[body.index(after: equals)...]
    } else {
      name = body
      value = nil
    }
    if booleanFlags.contains(String(name)), let value {
      switch value {
      case "1", "t", "T", "true", "TRUE", "True": return "--\(name)"
      case "0", "f", "F", "false", "FALSE", "False": return "--no-\(name)"
      default: break  // Left for the parser to reject with its own message.
      }
    }
    body = name
    if let value { return "--\(body)=\(value)" }
    return "--\(body)"
  }
}
