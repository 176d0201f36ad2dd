#!/usr/bin/env bash
# Regenerates the Swift messages and grpc-swift-2 stubs in Sources/DaprProto/Generated from the .proto files in
# Sources/DaprProto/Protos. The output is committed; CI runs this and checks that `git diff` stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null 2>&1 || scripts/install-prerequisites.sh

# The plugins come from the package graph (swift-protobuf and grpc-swift-protobuf), never from SwiftPM's protoc
# build plugin, which would compile protoc itself.
swift build --product protoc-gen-swift >/dev/null
swift build --product protoc-gen-grpc-swift-2 >/dev/null
bin=$(swift build --show-bin-path)

protos=Sources/DaprProto/Protos
out=Sources/DaprProto/Generated
rm -rf "$out"
mkdir -p "$out"
mapfile -t files < <(cd "$protos" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)

protoc \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  -I "$protos" \
  --swift_out="$out" --swift_opt=Visibility=Public \
  --grpc-swift-2_out="$out" --grpc-swift-2_opt=Visibility=Public,Server=true,Client=true \
  "${files[@]}"

# Protos without a service get a gRPC file that says so and holds nothing; drop it.
grep -rl --include='*.grpc.swift' 'This file contained no services' "$out" | xargs -r rm
echo "generated $(find "$out" -name '*.swift' | wc -l) files in $out from ${#files[@]} protos"
