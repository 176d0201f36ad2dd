#!/usr/bin/env bash
# Regenerates the Swift messages (Sources/DaprMessages/Generated) and grpc-swift-2 stubs (Sources/DaprProto/Generated)
# from the .proto files in Sources/DaprProto/Protos. The output is committed; CI runs this and checks that `git diff`
# stays clean.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v protoc >/dev/null 2>&1 || scripts/install-prerequisites.sh

# The plugins come from the package graph (swift-protobuf and grpc-swift-protobuf), never from SwiftPM's protoc
# build plugin, which would compile protoc itself.
swift build --product protoc-gen-swift >/dev/null
swift build --product protoc-gen-grpc-swift-2 >/dev/null
bin=$(swift build --show-bin-path)

protos=Sources/DaprProto/Protos
# The messages go to DaprMessages (SwiftProtobuf alone, for the pure cores), the services to DaprProto.
messages=Sources/DaprMessages/Generated
out=Sources/DaprProto/Generated
rm -rf "$messages" "$out"
mkdir -p "$messages" "$out"
mapfile -t files < <(cd "$protos" && find . -name '*.proto' | sed 's|^\./||' | LC_ALL=C sort)

protoc \
  --plugin=protoc-gen-swift="$bin/protoc-gen-swift" \
  --plugin=protoc-gen-grpc-swift-2="$bin/protoc-gen-grpc-swift-2" \
  -I "$protos" \
  --swift_out="$messages" --swift_opt=Visibility=Public \
  --grpc-swift-2_out="$out" \
  --grpc-swift-2_opt=Visibility=Public,Server=true,Client=true,ExtraModuleImports=DaprMessages \
  "${files[@]}"

# Protos without a service get a gRPC file that says so and holds nothing; drop it.
grep -rl --include='*.grpc.swift' 'This file contained no services' "$out" | xargs -r rm
echo "generated $(find "$messages" "$out" -name '*.swift' | wc -l) files in $messages and $out from ${#files[@]} protos"
