/*
 * worker.c - a fixed pool of threads that run requests.
 *
 * Every file-system operation happens here, never on the event loop, so a
 * slow disk delays only the requests that touch it.  The queue is a plain
 * FIFO under one mutex: requests are coarse (a system call or more each),
 * so the lock is not where the time goes.
 */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdlib.h>

#include "log.h"
#include "server.h"
#include "union.h"

struct work {
	struct work *next;
	work_fn fn;
	void *arg;
};

struct workers {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct work *head, **tail;
	bool stopping;
	unsigned nthreads;
	pthread_t *threads;
};

static struct work *dequeue(struct workers *w)
{
	struct work *wk;

	pthread_mutex_lock(&w->lock);
	while (!w->head && !w->stopping)
		pthread_cond_wait(&w->cond, &w->lock);
	wk = w->head;
	if (wk) {
		w->head = wk->next;
		if (!w->head)
			w->tail = &w->head;
	}
	pthread_mutex_unlock(&w->lock);
	return wk; /* NULL only when stopping with an empty queue */
}

static void *worker_main(void *arg)
{
	struct workers *w = arg;
	struct work *wk;

	while ((wk = dequeue(w)) != NULL) {
		un_request_begin();
		wk->fn(wk->arg);
		free(wk);
	}
	return NULL;
}

struct workers *workers_start(unsigned n)
{
	struct workers *w = calloc(1, sizeof(*w));
	sigset_t all, old;
	unsigned i;

	if (!w || !(w->threads = calloc(n, sizeof(pthread_t)))) {
		free(w);
		return NULL;
	}
	pthread_mutex_init(&w->lock, NULL);
	pthread_cond_init(&w->cond, NULL);
	w->tail = &w->head;

	/* Signals belong to the event loop: workers block them all. */
	sigfillset(&all);
	pthread_sigmask(SIG_BLOCK, &all, &old);
	for (i = 0; i < n; i++) {
		if (pthread_create(&w->threads[i], NULL, worker_main, w) != 0) {
			log_err("cannot start worker thread %u", i);
			break;
		}
	}
	pthread_sigmask(SIG_SETMASK, &old, NULL);
	w->nthreads = i;
	if (i == 0) {
		workers_stop(w);
		return NULL;
	}
	return w;
}

void workers_submit(struct workers *w, work_fn fn, void *arg)
{
	struct work *wk = malloc(sizeof(*wk));

	if (!wk) {
		/* Out of memory: run it here rather than lose the request. */
		fn(arg);
		return;
	}
	wk->fn = fn;
	wk->arg = arg;
	wk->next = NULL;
	pthread_mutex_lock(&w->lock);
	*w->tail = wk;
	w->tail = &wk->next;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

void workers_stop(struct workers *w)
{
	unsigned i;

	if (!w)
		return;
	pthread_mutex_lock(&w->lock);
	w->stopping = true;
	pthread_cond_broadcast(&w->cond);
	pthread_mutex_unlock(&w->lock);
	for (i = 0; i < w->nthreads; i++)
		pthread_join(w->threads[i], NULL);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	free(w->threads);
	free(w);
}
