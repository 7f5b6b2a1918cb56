/* keystore_proxy.c: the client side of keystore_proxy.h. A proxy key is an OpenSSL 3 legacy
 * RSA or EC_KEY with the public half and a method of ours: a key with a non-default method is
 * "foreign" to OpenSSL 3, which then keeps it off the providers and calls the method for every
 * private operation (sign, decrypt, derive), as it does for engine keys. The method finds the
 * handle in the key's ex_data and asks the key holder; on "unknown handle" (the key holder
 * restarted or evicted it) it loads the sealed blob again and asks once more. */
#define OPENSSL_SUPPRESS_DEPRECATED /* RSA_METHOD / EC_KEY_METHOD: the only hook OpenSSL 3 keeps */
#include "crypto/keystore_proxy_priv.h"
#include "crypto/keystore_priv.h"
#include "crypto/keystore_wire.h"
#include "core/limits.h"
#include "core/sg_mem.h"

#include <openssl/x509.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>

static keystore_call_fn *transport_fn;
static void *transport_arg;

void keystore_proxy_set_transport(keystore_call_fn *fn, void *arg)
{
	transport_fn = fn;
	transport_arg = arg;
}

int keystore_proxy_loopback(void *arg, enum keystore_op op, const unsigned char *req, size_t len,
                            struct sg_buf *reply, const char **error_r)
{
	return keystore_serve(arg, op, req, len, reply, error_r);
}

void keystore_proxy_ref_free(struct keystore_proxy_ref *ref)
{
	if (ref == NULL)
		return;
	sg_free(&ref->blob);
	sg_free(&ref->owner);
	sg_free(&ref);
}

/* One request; the reply's status byte is checked and consumed. 1: unknown handle. reply was
 * initialised by the caller (ceiling KEYSTORE_REPLY_MAX), who frees it. */
static int call(enum keystore_op op, const struct sg_buf *req, struct sg_buf *reply,
                const char **error_r)
{
	if (transport_fn == NULL) {
		*error_r = "no key process to ask (keystore proxy without transport)";
		return -1;
	}
	if (transport_fn(transport_arg, op, (const unsigned char *)req->data, req->len, reply,
	                 error_r) < 0)
		return -1;
	if (reply->len == 0 || (unsigned char)reply->data[0] > KEYSTORE_REPLY_UNKNOWN_HANDLE) {
		*error_r = "key process: malformed reply";
		return -1;
	}
	int st = reply->data[0];
	sg_buf_consume(reply, 1);
	return st;
}

/* KEY_LOAD: fills ref->handle and returns the public key the key holder reports. */
static EVP_PKEY *load(struct keystore_proxy_ref *ref, const char **error_r)
{
	struct sg_buf req, reply;
	sg_buf_init(&req, SG_SEALED_KEY_MAX + 1024);
	sg_buf_init(&reply, KEYSTORE_REPLY_MAX);
	EVP_PKEY *pub = NULL;
	if (kw_put_bytes(&req, ref->owner, strlen(ref->owner)) == 0 &&
	    kw_put_bytes(&req, ref->blob, ref->blob_len) == 0 &&
	    call(KEYSTORE_OP_KEY_LOAD, &req, &reply, error_r) == 0) {
		struct kw_reader r;
		kw_reader_init(&r, reply.data, reply.len);
		uint64_t id = kw_get_u64(&r);
		size_t dlen = 0;
		const unsigned char *der = kw_get_bytes(&r, &dlen);
		pub = kw_done(&r) ? d2i_PUBKEY(NULL, &der, (long)dlen) : NULL;
		atomic_store(&ref->handle, id);
		if (pub == NULL)
			*error_r = "key process: malformed key load reply";
	}
	sg_buf_free(&req);
	sg_buf_free(&reply);
	return pub;
}

int keystore_proxy_op(struct keystore_proxy_ref *ref, enum keystore_op op,
                      const struct sg_buf *body, struct sg_buf *reply, const char **error_r)
{
	sg_buf_init(reply, KEYSTORE_REPLY_MAX);
	for (int attempt = 0; attempt < 2; attempt++) {
		struct sg_buf req;
		sg_buf_init(&req, KEYSTORE_REPLY_MAX + 16);
		int rc = kw_put_u64(&req, atomic_load(&ref->handle)) == 0 &&
		                 sg_buf_append(&req, body->data, body->len) == 0
		             ? call(op, &req, reply, error_r)
		             : -1;
		sg_buf_free(&req);
		if (rc != 1)
			return rc;
		sg_buf_reset(reply);
		EVP_PKEY *pub = load(ref, error_r);
		if (pub == NULL)
			return -1;
		EVP_PKEY_free(pub);
	}
	*error_r = "key process forgets the key as soon as it loads it";
	return -1;
}

/* reply holds one byte string and nothing else: its bytes, at most max of them. */
const unsigned char *keystore_proxy_reply_bytes(const struct sg_buf *reply, size_t max,
                                                size_t *len_r)
{
	struct kw_reader r;
	kw_reader_init(&r, reply->data, reply->len);
	const unsigned char *p = kw_get_bytes(&r, len_r);
	return kw_done(&r) && *len_r <= max ? p : NULL;
}

static struct keystore_proxy_ref *ref_new(const unsigned char *blob, size_t blob_len,
                                          const char *owner)
{
	struct keystore_proxy_ref *ref = sg_calloc(1, sizeof(*ref));
	ref->blob = sg_memdup(blob, blob_len);
	ref->blob_len = blob_len;
	ref->owner = sg_strdup(owner);
	return ref;
}

int keystore_proxy_unseal(const unsigned char *blob, size_t blob_len, const char *owner,
                          struct keystore_key **key_r, const char **error_r)
{
	if (blob_len > SG_SEALED_KEY_MAX || owner == NULL || owner[0] == '\0') {
		*error_r = "sealed record: not a sealgate blob";
		return -1;
	}
	struct keystore_proxy_ref *ref = ref_new(blob, blob_len, owner);
	EVP_PKEY *pub = load(ref, error_r);
	if (pub == NULL) {
		keystore_proxy_ref_free(ref);
		return -1;
	}
	EVP_PKEY *pk = keystore_proxy_pkey(pub, ref, error_r); /* ref is pk's now */
	EVP_PKEY_free(pub);
	if (pk == NULL)
		return -1;
	*key_r = keystore_key_wrap(pk);
	return 0;
}
