/* held_invite.c: invitations to the portal. An OTP has ~100 random bits and is single-use and
 * attempt-limited, so a fast keyless hash suffices to store it; the OTP itself is shown once. */
#include "queue/held.h"

#include "core/sg_log.h"
#include "store/store.h"

#include <sodium.h>
#include <string.h>

void held_invite_otp_new(char *otp, size_t size)
{
	static const char alphabet[] = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"; /* 32, no 0/O 1/I */
	sg_assert(size >= HELD_OTP_LEN + HELD_OTP_LEN / 4);
	size_t o = 0;
	for (size_t i = 0; i < HELD_OTP_LEN; i++) {
		if (i > 0 && i % 4 == 0)
			otp[o++] = '-';
		otp[o++] = alphabet[randombytes_uniform(32)];
	}
	otp[o] = '\0';
}

void held_invite_otp_hash(const char *otp, char out[HELD_HASH_HEX])
{
	static const char domain[] = "sealgate-otp";
	char norm[64];
	size_t n = 0;
	for (const char *p = otp; *p != '\0' && n + 1 < sizeof(norm); p++) {
		if (*p == '-' || *p == ' ')
			continue;
		norm[n++] = (*p >= 'a' && *p <= 'z') ? (char)(*p - 'a' + 'A') : *p;
	}
	norm[n] = '\0';
	unsigned char h[32];
	crypto_generichash_state st;
	crypto_generichash_init(&st, NULL, 0, sizeof(h));
	crypto_generichash_update(&st, (const unsigned char *)domain, sizeof(domain));
	crypto_generichash_update(&st, (const unsigned char *)norm, n);
	crypto_generichash_final(&st, h, sizeof(h));
	sodium_bin2hex(out, HELD_HASH_HEX, h, sizeof(h));
	sodium_memzero(norm, sizeof(norm));
}

int held_invite_create(struct store *st, const char *address, const char *inviter,
                       int valid_days, time_t now, char *otp_r, int64_t *user_id_r,
                       time_t *until_r, const char **error_r)
{
	char hash[HELD_HASH_HEX];
	time_t until = now + (time_t)valid_days * 86400;
	held_invite_otp_new(otp_r, HELD_OTP_SIZE);
	held_invite_otp_hash(otp_r, hash);
	if (store_portal_invite(st, address, hash, until, user_id_r, error_r) < 0 ||
	    store_held_inviter_set(st, *user_id_r, inviter, error_r) < 0) {
		sodium_memzero(otp_r, HELD_OTP_SIZE);
		return -1;
	}
	*until_r = until;
	return 0;
}
