/*
 * The C surface jcpg binds: the system's corosync CPG API (Debian
 * libcpg-dev, corosync 3.1.7) plus the corotypes and iovec it uses.
 * jextract reads this file; scripts/jextract.sh filters it down to the
 * symbols listed in jextract/cpg.args.
 */
#ifndef JCPG_H
#define JCPG_H
#include <sys/uio.h>
/* cpg.h includes corotypes.h after the stdint types it needs. */
#include <corosync/cpg.h>
#endif
