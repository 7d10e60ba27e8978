/* Validation and defaulting of the built-in kinds that have rules an
 * operator can trip over (core/v1 Secret). */
#include "cmd/dtk-apiserver/apiserver.h"

#include <string.h>

#include "cmd/dtk-apiserver/fielderr.h"
#include "pkg/base/alloc.h"
#include "pkg/base/b64.h"

static const char config_key_msg[] =
    "a valid config key must consist of alphanumeric characters, '-', '_' or "
    "'.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for "
    "validation is '[-._a-zA-Z0-9]+')";

static int is_config_key(const char *k)
{
    if (*k == '\0' || strlen(k) > 253 || strcmp(k, ".") == 0 ||
        strcmp(k, "..") == 0) {
        return 0;
    }
    for (; *k; k++) {
        char c = *k;

        if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
              (c >= '0' && c <= '9') || c == '-' || c == '_' || c == '.')) {
            return 0;
        }
    }
    return 1;
}

/* stringData merges into data (base64) and is dropped, as the Secret REST
 * strategy does; data values must be base64 and keys config keys. Values
 * never appear in error messages. */
int dtk_builtin_admit_secret(dtk_json *obj, dtk_fielderr_list *errs)
{
    dtk_json *string_data = dtk_json_take(obj, "stringData");
    dtk_json *data = dtk_json_get(obj, "data");
    char field[320];

    if (dtk_json_get(obj, "type") == NULL) {
        dtk_json_set(obj, "type", dtk_json_new_string("Opaque"));
    }
    if (string_data != NULL && string_data->type == DTK_JSON_OBJECT) {
        if (data == NULL || data->type != DTK_JSON_OBJECT) {
            data = dtk_json_new_object();
            dtk_json_set(obj, "data", data);
        }
        for (size_t i = 0; i < string_data->u.object.len; i++) {
            const char *v = dtk_json_string(string_data->u.object.values[i]);
            dtk_buf enc = DTK_BUF_INIT(0);

            if (v == NULL) {
                snprintf(field, sizeof(field), "stringData[%s]",
                         string_data->u.object.keys[i]);
                dtk_fielderr_type_invalid(errs, field, NULL,
                                          "must be a string");
                continue;
            }
            dtk_b64_encode(&enc, v, strlen(v));
            dtk_json_set(data, string_data->u.object.keys[i],
                         dtk_json_new_string(dtk_buf_cstr(&enc)));
            dtk_buf_dispose(&enc);
        }
    }
    dtk_json_free(string_data);
    for (size_t i = 0; data != NULL && data->type == DTK_JSON_OBJECT &&
                       i < data->u.object.len;
         i++) {
        const char *key = data->u.object.keys[i];
        const char *v = dtk_json_string(data->u.object.values[i]);
        dtk_buf dec = DTK_BUF_INIT(0);
        dtk_json *kv = dtk_json_new_string(key);

        snprintf(field, sizeof(field), "data[%s]", key);
        if (!is_config_key(key)) {
            dtk_fielderr_invalid(errs, field, kv, config_key_msg);
        }
        if (v == NULL || dtk_b64_decode(&dec, v, strlen(v)) < 0) {
            dtk_fielderr_invalid(errs, field, NULL,
                                 "illegal base64 data (value not shown)");
        }
        dtk_json_free(kv);
        dtk_buf_dispose(&dec);
    }
    return 0;
}
