/* keyd_session.c: one client's state in keyd: its policy and the private keys it loaded.
 * Handles are numbered from 1 and kept in a ring: the 1025th key loaded drops the first,
 * whose handle then answers KEYD_E_NO_HANDLE (the client loads it again). */
#include "keyd/keyd_server.h"
#include "crypto/keystore.h"
#include "core/sg_mem.h"

struct handle_slot {
	uint32_t id;
	struct keystore_key *key;
};

struct keyd_session {
	const struct keyd_policy *policy;
	const struct keystore *ks;
	uint32_t next_id;
	struct handle_slot slots[KEYD_HANDLES_MAX];
};

struct keyd_session *keyd_session_new(const struct keyd_policy *policy,
                                      const struct keystore *ks)
{
	struct keyd_session *s = sg_calloc(1, sizeof(*s));
	s->policy = policy;
	s->ks = ks;
	return s;
}

void keyd_session_free(struct keyd_session **sp)
{
	if (*sp == NULL)
		return;
	for (size_t i = 0; i < KEYD_HANDLES_MAX; i++)
		keystore_key_free(&(*sp)->slots[i].key);
	sg_free(sp);
}

const struct keystore *keyd_session_keystore(const struct keyd_session *s)
{
	return s->ks;
}

const struct keyd_policy *keyd_session_policy(const struct keyd_session *s)
{
	return s->policy;
}

uint32_t keyd_session_key_add(struct keyd_session *s, struct keystore_key *key)
{
	if (++s->next_id == 0) /* 0 is never a handle */
		s->next_id = 1;
	struct handle_slot *slot = &s->slots[s->next_id % KEYD_HANDLES_MAX];
	keystore_key_free(&slot->key);
	slot->id = s->next_id;
	slot->key = key;
	return s->next_id;
}

struct keystore_key *keyd_session_key(struct keyd_session *s, uint32_t handle)
{
	struct handle_slot *slot = &s->slots[handle % KEYD_HANDLES_MAX];
	return handle != 0 && slot->id == handle ? slot->key : NULL;
}

void keyd_session_key_free(struct keyd_session *s, uint32_t handle)
{
	struct handle_slot *slot = &s->slots[handle % KEYD_HANDLES_MAX];
	if (handle != 0 && slot->id == handle) {
		keystore_key_free(&slot->key);
		slot->id = 0;
	}
}
