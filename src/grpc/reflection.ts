import { ReflectionService } from '@grpc/reflection';
import type { PackageDefinition } from '@grpc/proto-loader';
import { FileDescriptorProto, IFileDescriptorProto } from 'protobufjs/ext/descriptor';

/** The parts of @grpc/reflection's implementation (1.0.x) that the fix below touches. */
interface ReflectionIndex {
  files: Record<string, IFileDescriptorProto>;
  fileDependencies: Map<object, Array<{ name?: string }>>;
  fileEncodings: Map<object, Uint8Array>;
}

/**
 * Server reflection for the loaded contract, so grpcurl works without the proto files.
 *
 * @grpc/reflection serves the file descriptors proto-loader builds. Those list no imports, so a
 * client cannot resolve types from another file (google.protobuf.Timestamp): `grpcurl list`
 * works but `describe` and calls fail (grpc/grpc-node#2958). The library already works out
 * which file uses which; this writes that into each descriptor's `dependency` list.
 */
export function reflectionFor(definition: PackageDefinition): ReflectionService {
  const service = new ReflectionService(definition);
  const implementations = service as unknown as { v1: ReflectionIndex; v1Alpha: ReflectionIndex };
  for (const index of [implementations.v1, implementations.v1Alpha]) {
    for (const file of Object.values(index.files)) {
      const imports = (index.fileDependencies.get(file) ?? []).map((dep) => dep.name).filter((name): name is string => Boolean(name));
      file.dependency = [...new Set(imports)];
      index.fileEncodings.set(file, FileDescriptorProto.encode(file).finish());
    }
  }
  return service;
}
