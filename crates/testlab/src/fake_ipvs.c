/*
 * fake_ipvs.so: lets the real keepalived's checker process run on a kernel without IPVS, so
 * tests can compare its checkers with fulcrum's on the same keepalived.conf.
 *
 * keepalived talks to IPVS through libnl's generic netlink ("IPVS" family). This LD_PRELOAD
 * library answers the family lookup with a made-up id, answers IPVS_CMD_GET_INFO with a
 * version, acknowledges every other IPVS command without a kernel, and writes one line per
 * command to the file named by FAKE_IPVS_LOG:
 *     NEW_DEST 127.0.0.1:8080 weight 1
 *     DEL_DEST 127.0.0.1:8080
 *     SET_DEST 127.0.0.1:8080 weight 0
 * Every other netlink use goes to the real libnl. Test-only; built by testlab::keepalived.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct nl_sock;
struct nl_msg;
struct nlmsghdr {
	uint32_t nlmsg_len;
	uint16_t nlmsg_type;
	uint16_t nlmsg_flags;
	uint32_t nlmsg_seq;
	uint32_t nlmsg_pid;
};
typedef int (*nl_recvmsg_msg_cb_t)(struct nl_msg *, void *);

extern struct nlmsghdr *nlmsg_hdr(struct nl_msg *);
extern struct nl_msg *nlmsg_alloc(void);
extern void nlmsg_free(struct nl_msg *);
extern void *genlmsg_put(struct nl_msg *, uint32_t, uint32_t, int, int, int, uint8_t, uint8_t);
extern int nla_put_u32(struct nl_msg *, int, uint32_t);

#define FAKE_FAMILY 0x3f0
#define NL_CB_VALID 0
#define NL_CB_ACK 4
#define IPVS_CMD_GET_INFO 15

static const char *cmd_names[] = {
	"UNSPEC", "NEW_SERVICE", "SET_SERVICE", "DEL_SERVICE", "GET_SERVICE", "NEW_DEST",
	"SET_DEST", "DEL_DEST", "GET_DEST", "NEW_DAEMON", "DEL_DAEMON", "GET_DAEMON",
	"SET_CONFIG", "GET_CONFIG", "SET_INFO", "GET_INFO", "ZERO", "FLUSH",
};

/* The valid-message callback keepalived set, the last IPVS command sent (its reply not yet
 * given) and whether the last message sent was an IPVS one (its receives are answered here). */
static nl_recvmsg_msg_cb_t valid_cb, ack_cb;
static void *valid_arg, *ack_arg;
static int last_cmd = -1;
static int faking;
static int svc_af = 2;

static void *real(const char *name)
{
	void *f = dlsym(RTLD_NEXT, name);
	if (!f) {
		fprintf(stderr, "fake_ipvs: no %s\n", name);
		abort();
	}
	return f;
}

int genl_ctrl_resolve(struct nl_sock *sk, const char *name)
{
	if (name && strcmp(name, "IPVS") == 0)
		return FAKE_FAMILY;
	int (*f)(struct nl_sock *, const char *) = real("genl_ctrl_resolve");
	return f(sk, name);
}

int nl_socket_modify_cb(struct nl_sock *sk, int type, int kind, nl_recvmsg_msg_cb_t func, void *arg)
{
	if (type == NL_CB_VALID) {
		valid_cb = func;
		valid_arg = arg;
	} else if (type == NL_CB_ACK) {
		ack_cb = func;
		ack_arg = arg;
	}
	int (*f)(struct nl_sock *, int, int, nl_recvmsg_msg_cb_t, void *) = real("nl_socket_modify_cb");
	return f(sk, type, kind, func, arg);
}

/* Walks netlink attributes in [p, end): calls visit(type, data, len). */
static void walk(const unsigned char *p, const unsigned char *end,
		 void (*visit)(int, const unsigned char *, int, void *), void *ctx)
{
	while (p + 4 <= end) {
		uint16_t len, type;
		memcpy(&len, p, 2);
		memcpy(&type, p + 2, 2);
		if (len < 4 || p + len > end)
			break;
		visit(type & 0x3fff, p + 4, len - 4, ctx);
		p += (len + 3) & ~3u;
	}
}

struct dest {
	unsigned char addr[16];
	int have_addr;
	uint16_t port;
	int have_weight;
	uint32_t weight;
};

static void visit_dest(int type, const unsigned char *d, int len, void *ctx)
{
	struct dest *dst = ctx;
	if (type == 1 && len >= 4) {
		memcpy(dst->addr, d, len > 16 ? 16 : len);
		dst->have_addr = 1;
	} else if (type == 2 && len >= 2) {
		memcpy(&dst->port, d, 2);
	} else if (type == 4 && len >= 4) {
		memcpy(&dst->weight, d, 4);
		dst->have_weight = 1;
	}
}

static void visit_service(int type, const unsigned char *d, int len, void *ctx)
{
	(void)ctx;
	if (type == 1 && len >= 2) {
		uint16_t af;
		memcpy(&af, d, 2);
		svc_af = af;
	}
}

static void visit_top(int type, const unsigned char *d, int len, void *ctx)
{
	if (type == 1)
		walk(d, d + len, visit_service, NULL);
	else if (type == 2)
		walk(d, d + len, visit_dest, ctx);
}

static void record(struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	const unsigned char *base = (const unsigned char *)h;
	if (h->nlmsg_len < 20)
		return;
	int cmd = base[16];
	last_cmd = cmd;
	struct dest dst;
	memset(&dst, 0, sizeof dst);
	walk(base + 20, base + h->nlmsg_len, visit_top, &dst);
	const char *path = getenv("FAKE_IPVS_LOG");
	if (!path)
		return;
	FILE *f = fopen(path, "a");
	if (!f)
		return;
	const char *name = cmd >= 0 && cmd < (int)(sizeof cmd_names / sizeof *cmd_names) ? cmd_names[cmd] : "?";
	fprintf(f, "%s", name);
	if (dst.have_addr) {
		char text[INET6_ADDRSTRLEN] = "?";
		inet_ntop(svc_af == 10 ? 10 : 2, dst.addr, text, sizeof text);
		if (svc_af == 10)
			fprintf(f, " [%s]:%u", text, ntohs(dst.port));
		else
			fprintf(f, " %s:%u", text, ntohs(dst.port));
	}
	if (dst.have_weight)
		fprintf(f, " weight %u", dst.weight);
	fprintf(f, "\n");
	fclose(f);
}

int nl_send_auto(struct nl_sock *sk, struct nl_msg *msg)
{
	struct nlmsghdr *h = nlmsg_hdr(msg);
	if (h->nlmsg_type == FAKE_FAMILY) {
		record(msg);
		faking = 1;
		return (int)h->nlmsg_len;
	}
	last_cmd = -1;
	faking = 0;
	int (*f)(struct nl_sock *, struct nl_msg *) = real("nl_send_auto");
	return f(sk, msg);
}

int nl_send_auto_complete(struct nl_sock *sk, struct nl_msg *msg)
{
	return nl_send_auto(sk, msg);
}

int nl_recvmsgs_default(struct nl_sock *sk)
{
	if (!faking) {
		int (*f)(struct nl_sock *) = real("nl_recvmsgs_default");
		return f(sk);
	}
	int cmd = last_cmd;
	last_cmd = -1;
	struct nl_msg *reply = nlmsg_alloc();
	genlmsg_put(reply, 0, 0, FAKE_FAMILY, 0, 0, cmd < 0 ? 0 : cmd, 1);
	if (cmd == IPVS_CMD_GET_INFO && valid_cb) {
		nla_put_u32(reply, 1, 0x010201); /* IPVS_INFO_ATTR_VERSION 1.2.1 */
		nla_put_u32(reply, 2, 4096);     /* IPVS_INFO_ATTR_CONN_TAB_SIZE */
		valid_cb(reply, valid_arg);
	}
	/* GET_SERVICE / GET_DEST dumps: an empty table. Then the ack keepalived waits for. */
	if (ack_cb)
		ack_cb(reply, ack_arg);
	nlmsg_free(reply);
	return 0;
}
