/* Kubernetes protobuf request bodies, decoded to JSON objects.
 * Thread-safety: thread-safe (no shared state).
 *
 * kubectl and client-go send built-in kinds as
 * "application/vnd.kubernetes.protobuf": the 4-byte magic "k8s\0" followed
 * by a runtime.Unknown envelope whose typeMeta names the kind and whose raw
 * bytes are the object's message. dtk-apiserver keeps every object as JSON,
 * so a protobuf body is turned into the JSON Kubernetes' own encoder would
 * write for the same Go object: JSON field names, Go's omitempty rules
 * (empty strings and zero numbers dropped, pointer fields kept when set,
 * struct fields always present, so a zero creationTimestamp is null), map
 * keys sorted, bytes as standard base64, Time as RFC 3339 seconds and
 * MicroTime with microseconds, RawExtension and FieldsV1 as embedded JSON,
 * and invalid UTF-8 replaced by U+FFFD.
 *
 * The messages come from the .proto files in cmd/dtk-apiserver/proto
 * (upstream field numbers), compiled by protoc-c at build time and parsed by
 * libprotobuf-c.
 */
#ifndef DTK_APISERVER_PROTO_H
#define DTK_APISERVER_PROTO_H

#include <stddef.h>

#include "pkg/json/json.h"

#define DTK_PROTO_CONTENT_TYPE "application/vnd.kubernetes.protobuf"

/* Decodes body[0..len) (a whole protobuf request body) into a JSON object
 * with "kind" and "apiVersion" taken from the envelope. Supported: v1
 * Namespace, Secret, ConfigMap, ServiceAccount and Event;
 * coordination.k8s.io/v1 Lease; apps/v1 ControllerRevision;
 * events.k8s.io/v1 Event; DeleteOptions of any group version.
 * metadata.managedFields is decoded too.
 *
 * On success *out is owned by the caller. Returns DTK_EINVALID with a
 * one-line message (never quoting field values) when the magic or the
 * envelope is wrong, the kind is not supported, the message does not parse,
 * a time is outside years 1-9999 or embedded raw data is not JSON. Never
 * reads past len; memory use is proportional to len. */
int dtk_proto_decode(dtk_json **out, const void *body, size_t len);

#endif
