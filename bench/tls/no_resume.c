/* LD_PRELOAD shim for wrk (bench/tls/run.sh): wrk reuses one SSL object per connection slot and
 * SSL_clear() keeps its session, so wrk resumes nearly every handshake. Forgetting the session
 * after SSL_clear() makes each new connection a full handshake. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>

typedef struct ssl_st SSL;
typedef struct ssl_session_st SSL_SESSION;

int SSL_clear(SSL *s)
{
    static int (*real_clear)(SSL *);
    static int (*set_session)(SSL *, SSL_SESSION *);
    if (!real_clear) {
        real_clear = (int (*)(SSL *))dlsym(RTLD_NEXT, "SSL_clear");
        set_session = (int (*)(SSL *, SSL_SESSION *))dlsym(RTLD_NEXT, "SSL_set_session");
    }
    int r = real_clear(s);
    if (set_session)
        set_session(s, NULL);
    return r;
}
