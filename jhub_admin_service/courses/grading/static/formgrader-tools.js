// jhub-admin's additions to nbgrader's Formgrader pages (courses/grading/__init__.py):
// a course menu on every page, and "autograde every submission" on an assignment's submissions.
// nbgrader's base.tpl defines `base_url`; its submissions page defines `assignment_id`.
(function () {
    "use strict";
    var fr = (navigator.language || "").toLowerCase().indexOf("fr") === 0;
    var words = {
        course: fr ? "Cours" : "Course",
        all: fr ? "Corriger toutes les nouvelles copies" : "Autograde every new submission",
        progress: fr ? "Correction : %d / %t copies" : "Autograding: %d / %t submissions",
        done: fr ? "Copies corrigées : %d" : "Submissions autograded: %d",
        failed: fr ? ", %f en échec : " : ", %f failed: ",
        none: fr ? "Aucune nouvelle copie à corriger." : "No new submission to autograde.",
        error: fr ? "La correction a échoué : " : "Autograding failed: "
    };
    var api = base_url + "/jhub-admin/grading";

    function xsrf() {
        var m = document.cookie.match("\\b_xsrf=([^;]*)\\b");
        return m ? m[1] : "";
    }

    function call(method, path, body) {
        return fetch(api + path, {
            method: method, credentials: "same-origin",
            headers: {"Content-Type": "application/json", "X-XSRFToken": xsrf()},
            body: body ? JSON.stringify(body) : undefined
        }).then(function (r) {
            return r.json().then(function (data) {
                if (!r.ok) { throw new Error(data.message || r.statusText); }
                return data;
            });
        });
    }

    function label(course) {
        var classes = (course.classes || []).join(", ");
        return classes ? classes + " (" + course.course_id + ")" : course.course_id;
    }

    function courseMenu() {
        var nav = document.querySelector(".nav.nav-pills.nav-stacked");
        if (!nav) { return; }
        call("GET", "/courses").then(function (data) {
            var box = document.createElement("div");
            box.id = "jha-course";
            box.style.marginBottom = "1em";
            var title = document.createElement("label");
            title.textContent = words.course;
            title.htmlFor = "jha-course-menu";
            box.appendChild(title);
            var menu = document.createElement("select");
            menu.id = "jha-course-menu";
            menu.className = "form-control";
            data.courses.forEach(function (course) {
                var option = new Option(label(course), course.course_id, false, course.course_id === data.active);
                menu.appendChild(option);
            });
            menu.disabled = data.courses.length < 2;
            menu.addEventListener("change", function () {
                menu.disabled = true;
                call("POST", "/courses", {course_id: menu.value}).then(function () {
                    window.location.href = base_url + "/formgrader/manage_assignments";
                }, function (e) { menu.disabled = false; alert(e.message); });
            });
            box.appendChild(menu);
            nav.parentNode.insertBefore(box, nav);
        });
    }

    function autogradeAll() {
        if (typeof assignment_id === "undefined" || window.location.pathname.indexOf("/formgrader/manage_submissions/") < 0) {
            return;
        }
        var anchor = document.getElementById("accordion") || document.querySelector("table");
        var box = document.createElement("div");
        box.id = "jha-autograde-all";
        box.style.margin = "1em 0";
        var button = document.createElement("button");
        button.className = "btn btn-primary";
        button.textContent = words.all;
        var status = document.createElement("span");
        status.id = "jha-autograde-status";
        status.style.marginLeft = "1em";
        box.appendChild(button);
        box.appendChild(status);
        anchor.parentNode.insertBefore(box, anchor);
        var path = "/assignments/" + encodeURIComponent(assignment_id) + "/autograde";

        var sawRunning = false;

        function show(job) {
            if (job.state === "running") {
                sawRunning = true;
                button.disabled = true;
                status.textContent = words.progress.replace("%d", job.done).replace("%t", job.total === null ? "…" : job.total);
                window.setTimeout(poll, 1000);
                return;
            }
            if (sawRunning) {
                // Graded while this page watched: the page again, with the new scores (and this line).
                window.location.reload();
                return;
            }
            button.disabled = false;
            if (job.state === "none") { return; }
            if (job.state === "failed") {
                status.textContent = words.error + (job.error || "").slice(-300);
            } else if (job.total === 0) {
                status.textContent = words.none;
            } else {
                var text = words.done.replace("%d", job.done - job.failed.length);
                if (job.failed.length) {
                    text += words.failed.replace("%f", job.failed.length) +
                        job.failed.map(function (f) { return f.student; }).join(", ");
                }
                status.textContent = text;
            }
            status.setAttribute("data-state", job.state);
        }

        function poll() { call("GET", path).then(show); }

        button.addEventListener("click", function () {
            button.disabled = true;
            call("POST", path).then(show, function (e) { button.disabled = false; status.textContent = e.message; });
        });
        poll();
    }

    courseMenu();
    autogradeAll();
})();
