// Starts Swagger UI on /api/v1/docs/ (vendored in static/vendor/swagger-ui; no inline script).
document.addEventListener("DOMContentLoaded", () => {
  const root = document.getElementById("swagger-ui");
  if (!root || typeof window.SwaggerUIBundle !== "function") {
    return;
  }
  const csrfToken = root.dataset.csrfToken;
  window.SwaggerUIBundle({
    url: root.dataset.schemaUrl,
    domNode: root,
    deepLinking: true,
    presets: [window.SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // "Try it out" for a signed-in user: the session cookie goes along (same origin); unsafe
    // methods need the CSRF token as well.
    requestInterceptor: (request) => {
      if (csrfToken && !/^(GET|HEAD|OPTIONS)$/i.test(request.method || "GET")) {
        request.headers["X-CSRFToken"] = csrfToken;
      }
      return request;
    },
  });
});
