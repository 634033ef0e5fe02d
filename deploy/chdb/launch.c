/*
 * chdb-launch: runs clickhouse-local from libchdb.so (the ClickHouse
 * engine as a library, from the npm package @chdb/lib-linux-x64-gnu) with
 * the arguments it is given, so that a current ClickHouse can serve its
 * native TCP and HTTP protocols on a machine without a ClickHouse server
 * package. The tests and CI use it; production runs a ClickHouse server.
 *
 * Build: gcc -O2 -o chdb-launch launch.c -ldl
 * Run:   CHDB_LIB=/path/to/libchdb.so chdb-launch --path=DIR --multiquery \
 *          --query "SYSTEM START LISTEN TCP; SYSTEM START LISTEN HTTP;
 *                   SELECT sleepEachRow(1) FROM system.numbers
 *                   SETTINGS max_block_size=1 FORMAT Null" \
 *          -- --tcp_port=9000 --http_port=8123 --listen_host=127.0.0.1
 *
 * The last query blocks, so the listeners stay up until the process is
 * killed. clickhouse-local's own errors go to stderr.
 */
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>

/* chdb_query_cmdline(argc, argv) runs clickhouse-local's command line and
 * returns its result (unused here: the queries write to stdout/stderr). */
typedef void *(*cmdline_fn)(int argc, char **argv);

int main(int argc, char **argv) {
	const char *lib = getenv("CHDB_LIB");
	if (lib == NULL || *lib == '\0') {
		lib = "libchdb.so";
	}
	void *h = dlopen(lib, RTLD_NOW | RTLD_GLOBAL);
	if (h == NULL) {
		fprintf(stderr, "chdb-launch: load %s: %s\n", lib, dlerror());
		return 2;
	}
	cmdline_fn run = (cmdline_fn)dlsym(h, "chdb_query_cmdline");
	if (run == NULL) {
		fprintf(stderr, "chdb-launch: %s has no chdb_query_cmdline: %s\n", lib, dlerror());
		return 2;
	}
	run(argc, argv);
	return 0;
}
