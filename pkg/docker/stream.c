/* Decoder of the engine's multiplexed stdout/stderr stream (logs and exec
 * without a TTY), and the bounded collector the logs and exec calls use.
 *
 * Frame: [stream, 0, 0, 0, size (big-endian uint32)] then size bytes. Reads
 * from the socket split frames anywhere, headers included, so the decoder
 * is a small state machine over (header bytes seen, payload bytes due).
 */
#include "pkg/docker/docker_int.h"

#include <string.h>

#include "pkg/base/alloc.h"
#include "pkg/base/error.h"

int dtk_docker_demux_feed(dtk_docker_demux *d,
                          const char *data,
                          size_t len,
                          dtk_docker_demux_cb cb,
                          void *payload)
{
    while (len > 0) {
        if (d->remaining > 0) {
            size_t n = len < d->remaining ? len : d->remaining;
            int rc = cb(d->stream, data, n, payload);

            d->remaining -= n;
            data += n;
            len -= n;
            if (rc != 0) {
                return rc;
            }
            continue;
        }
        while (d->header_len < sizeof(d->header) && len > 0) {
            d->header[d->header_len++] = (unsigned char)*data++;
            len--;
        }
        if (d->header_len < sizeof(d->header)) {
            break; /* the rest of the header comes with the next read */
        }
        if (d->header[0] > DTK_DOCKER_STREAM_SYSTEMERR || d->header[1] != 0 ||
            d->header[2] != 0 || d->header[3] != 0) {
            dtk_error_set(DTK_ERRCLASS_DOCKER,
                          "multiplexed stream: bad frame header (stream "
                          "byte %u)",
                          d->header[0]);
            return DTK_EINVALID;
        }
        d->stream = d->header[0];
        d->remaining = ((size_t)d->header[4] << 24) |
                       ((size_t)d->header[5] << 16) |
                       ((size_t)d->header[6] << 8) | (size_t)d->header[7];
        d->header_len = 0;
    }
    return 0;
}

int dtk_docker_demux_finish(const dtk_docker_demux *d)
{
    if (d->header_len != 0 || d->remaining != 0) {
        dtk_error_set(DTK_ERRCLASS_DOCKER,
                      "multiplexed stream: ended inside a frame (%zu bytes "
                      "missing)",
                      d->header_len != 0 ? sizeof(d->header) - d->header_len
                                         : d->remaining);
        return DTK_EINVALID;
    }
    return 0;
}

/* Appends what fits; a full buffer sets truncated and keeps going (the
 * transfer is not aborted, so exec still ends normally). */
static void put_bounded(dtk_docker_output *out,
                        dtk_buf *buf,
                        const char *data,
                        size_t len)
{
    size_t limit = buf->limit ? buf->limit : DTK_BUF_DEFAULT_LIMIT;
    size_t room = limit > buf->len ? limit - buf->len : 0;

    if (len > room) {
        out->truncated = 1;
        len = room;
    }
    if (len > 0) {
        dtk_assert(dtk_buf_put(buf, data, len) == 0);
    }
}

static int collect_frame(int stream,
                         const char *data,
                         size_t len,
                         void *payload)
{
    dtk_docker_output *out = payload;

    put_bounded(out, stream == DTK_DOCKER_STREAM_STDOUT ? &out->out : &out->err,
                data, len);
    return 0;
}

int dtk_docker__collect_cb(const char *data, size_t len, void *payload)
{
    dtk_docker__collect *c = payload;

    if (c->raw) {
        put_bounded(c->out, &c->out->out, data, len);
        return 0;
    }
    if (dtk_docker_demux_feed(&c->demux, data, len, collect_frame, c->out) <
        0) {
        c->bad_stream = 1;
        return 1; /* stops the transfer; the caller reports it */
    }
    return 0;
}
