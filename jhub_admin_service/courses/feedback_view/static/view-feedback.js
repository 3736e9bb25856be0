// jhub-admin (courses/feedback_view): "(view feedback)" in nbgrader's Assignment List opens the
// feedback page in a new tab, rather than the file browser on the feedback's folder.
// nbgrader writes each submission as a span holding its timestamp, then that link.
(function () {
    "use strict";
    var base = document.currentScript.getAttribute("data-base-url");
    document.addEventListener("click", function (event) {
        var link = event.target.closest ? event.target.closest("a") : null;
        // (in French, courses/nbgrader_words keeps nbgrader's words in data-jha-en)
        var words = link ? link.getAttribute("data-jha-en") || link.textContent.trim() : "";
        if (words !== "(view feedback)" || !link.parentElement) { return; }
        var timestamp = Array.prototype.filter.call(link.parentElement.childNodes, function (node) {
            return node.nodeType === Node.TEXT_NODE;
        }).map(function (node) { return node.textContent; }).join("").trim();
        if (!timestamp) { return; }
        // Before nbgrader's own handler (on the link) runs: this listener is the document's, capturing.
        event.preventDefault();
        event.stopPropagation();
        window.open(base + "jhub-admin/feedback?timestamp=" + encodeURIComponent(timestamp), "_blank");
    }, true);
}());
