/*
 * Moor's pause program: PID 1 of every pod sandbox. It holds the pod's namespaces open, sleeps
 * until SIGTERM or SIGINT, and reaps any zombie re-parented to it (shared PID namespace).
 */
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
  (void)sig;
  _exit(0);
}

static void on_child(int sig) {
  (void)sig;
  int saved = errno;
  while (waitpid(-1, NULL, WNOHANG) > 0) {
  }
  errno = saved;
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "-v") == 0) {
    puts("moor pause 1.0");
    return 0;
  }
  if (getpid() != 1) fprintf(stderr, "moor pause: warning: not running as pid 1\n");

  struct sigaction stop = {0};
  stop.sa_handler = on_stop;
  sigemptyset(&stop.sa_mask);
  if (sigaction(SIGTERM, &stop, NULL) < 0 || sigaction(SIGINT, &stop, NULL) < 0) {
    perror("moor pause: sigaction");
    return 1;
  }
  struct sigaction child = {0};
  child.sa_handler = on_child;
  sigemptyset(&child.sa_mask);
  child.sa_flags = SA_NOCLDSTOP | SA_RESTART;
  if (sigaction(SIGCHLD, &child, NULL) < 0) {
    perror("moor pause: sigaction");
    return 1;
  }
  for (;;) pause();
}
